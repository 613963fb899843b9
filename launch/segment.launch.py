# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Start segment_node with a config file, and optionally rviz2.

Examples (one line each)::

    ros2 launch eunet_ros segment.launch.py
    ros2 launch eunet_ros segment.launch.py camera_topic:=/my_camera/image_raw rviz:=true
    ros2 launch eunet_ros segment.launch.py use_sim_time:=true
        config:=$(ros2 pkg prefix eunet_ros)/share/eunet_ros/config/eufs_sim.yaml
    ros2 launch eunet_ros segment.launch.py lifecycle:=true
    ros2 launch eunet_ros segment.launch.py respawn:=true respawn_delay:=1.0

With lifecycle:=true the node is segment_lifecycle_node, a managed node that waits,
unconfigured, for its transitions (``ros2 lifecycle set /segment_node configure``,
then ``activate``), as the team's state machine sends them.

With respawn:=true launch starts the node again respawn_delay seconds after its
process ends, whatever the cause (a lifecycle node comes back unconfigured).

The arguments checkpoint, device, backend and camera_topic override the config file
only when given; left empty, the config file's value stands.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'eunet_ros'


def _truthy(text):
    return text.strip().lower() in ('true', '1', 'yes', 'on')


def _segment_node(context, *args, **kwargs):
    """Build segment_node with the config file and only the overrides that were given."""
    overrides = {'use_sim_time': _truthy(LaunchConfiguration('use_sim_time').perform(context))}
    for name in ('checkpoint', 'device', 'backend', 'camera_topic'):
        value = LaunchConfiguration(name).perform(context).strip()
        if value:
            overrides[name] = value
    respawn = _truthy(LaunchConfiguration('respawn').perform(context))
    respawn_delay = float(LaunchConfiguration('respawn_delay').perform(context))
    if _truthy(LaunchConfiguration('lifecycle').perform(context)):
        return [LifecycleNode(
            package=PACKAGE,
            executable='segment_lifecycle_node',
            name='segment_node',
            namespace=LaunchConfiguration('namespace'),
            parameters=[LaunchConfiguration('config'), overrides],
            output='screen',
            emulate_tty=True,
            respawn=respawn,
            respawn_delay=respawn_delay,
        )]
    return [Node(
        package=PACKAGE,
        executable='segment_node',
        name='segment_node',
        namespace=LaunchConfiguration('namespace'),
        parameters=[LaunchConfiguration('config'), overrides],
        output='screen',
        emulate_tty=True,
        respawn=respawn,
        respawn_delay=respawn_delay,
    )]


def generate_launch_description():
    """Declare the arguments, segment_node and the optional rviz2."""
    share = FindPackageShare(PACKAGE)
    return LaunchDescription([
        DeclareLaunchArgument(
            'config', default_value=PathJoinSubstitution([share, 'config', 'default.yaml']),
            description='Parameter file of segment_node: default.yaml, eufs_sim.yaml or '
                        'fsds.yaml in share/eunet_ros/config, or your own.'),
        DeclareLaunchArgument(
            'checkpoint', default_value='',
            description='EUnet checkpoint file (.pt). Empty: keep the config file value '
                        '(by default the packaged model).'),
        DeclareLaunchArgument(
            'device', default_value='',
            description='Inference device: auto, cpu, cuda or cuda:N. Empty: keep the config '
                        'file value.'),
        DeclareLaunchArgument(
            'backend', default_value='',
            description='What runs the network: auto, torch or onnxruntime (CPU). Empty: '
                        'keep the config file value.'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of segment_node and all its topics.'),
        DeclareLaunchArgument(
            'camera_topic', default_value='',
            description='One-camera shortcut: the image topic to segment, instead of the '
                        'configured one (only for configs with exactly one camera).'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false',
            description='Use the /clock topic (true with simulators and bag replay).'),
        DeclareLaunchArgument(
            'lifecycle', default_value='false',
            description='Start segment_lifecycle_node, a managed node driven through the '
                        'lifecycle_msgs services (configure, activate, ...), instead of the '
                        'plain segment_node.'),
        DeclareLaunchArgument(
            'respawn', default_value='false',
            description='Start segment_node again, after respawn_delay seconds, whenever its '
                        'process exits (a crash, a kill); false: it stays down.'),
        DeclareLaunchArgument(
            'respawn_delay', default_value='2.0',
            description='Seconds to wait before respawning segment_node (with respawn:=true).'),
        DeclareLaunchArgument(
            'rviz', default_value='false',
            description='Also start rviz2 with config/eunet.rviz (overlay and mask of the '
                        'camera named camera, outside any namespace).'),
        OpaqueFunction(function=_segment_node),
        Node(
            package='rviz2',
            executable='rviz2',
            name='rviz2',
            arguments=['-d', PathJoinSubstitution([share, 'config', 'eunet.rviz'])],
            parameters=[{'use_sim_time': LaunchConfiguration('use_sim_time')}],
            condition=IfCondition(LaunchConfiguration('rviz')),
            output='screen',
        ),
    ])
