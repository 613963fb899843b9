from glob import glob
import os

from setuptools import find_packages, setup
from setuptools.command.develop import develop
from setuptools.command.install_scripts import install_scripts

package_name = 'eunet_ros'

# setuptools' console-script wrapper finds its function through the package metadata
# (importlib.metadata), so started without the install space sourced it dies with a
# bare "PackageNotFoundError: No package metadata was found for eunet-ros". This one
# imports the function directly (as pip's wrappers do) and, when eunet_ros or ROS 2
# does not import, says what to source.
WRAPPER = """\
# eunet_ros console script {name!r}: runs {module}:{func}() (written by setup.py).
import sys

try:
    from {module} import {func}
except KeyboardInterrupt:  # Ctrl-C while the modules load: stop quietly, as later
    sys.exit(130)
except ImportError as e:
    top = (getattr(e, 'name', None) or '').split('.')[0]
    if top not in ('eunet_ros', 'rclpy', 'rcl_interfaces', 'sensor_msgs', 'std_msgs',
                   'std_srvs', 'diagnostic_msgs', 'builtin_interfaces', 'rpyutils'):
        raise
    import os
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    setups = [os.path.join(d, 'local_setup.bash') for d in (os.path.dirname(prefix), prefix)]
    setup = next((f for f in setups if os.path.isfile(f)), setups[0])
    if top == 'eunet_ros':
        why, steps = 'eunet_ros is not on the Python path', ['source ' + setup]
        ros = ('with a system ROS 2, source /opt/ros/<distro>/setup.bash before it; then '
               '`ros2 run eunet_ros {name}` works too')
    else:
        why = 'ROS 2 does not import here'
        steps = ['source /opt/ros/<distro>/setup.bash   # your ROS 2', 'source ' + setup]
        ros = 'or run it with the Python of the environment that has ROS 2'
    sys.exit('{name}: %s (%s). Source the install space, then run this again:\\n    %s\\n'
             '(%s)' % (why, e, '\\n    '.join(steps), ros))

if __name__ == '__main__':
    sys.exit({func}())
"""


def _wrapper(dist, name, contents):
    """Return the console script ``name`` of ``dist`` as WRAPPER, keeping the #! line."""
    entries = (dist.entry_points or {}).get('console_scripts', [])
    targets = dict((s.strip() for s in e.split('=')) for e in entries)
    if name not in targets or isinstance(contents, bytes):
        return contents
    header = contents.splitlines(True)[0] if contents.startswith('#!') else ''
    module, func = targets[name].split(':')
    return header + WRAPPER.format(name=name, module=module, func=func)


class InstallScripts(install_scripts):
    """Write the console scripts as :data:`WRAPPER` (``colcon build``)."""

    def write_script(self, script_name, contents, *args, **kwargs):
        """Write ``script_name`` with the eunet_ros wrapper instead of setuptools' one."""
        contents = _wrapper(self.distribution, script_name, contents)
        return super().write_script(script_name, contents, *args, **kwargs)


class Develop(develop):
    """Write the console scripts as :data:`WRAPPER` (``colcon build --symlink-install``)."""

    def write_script(self, script_name, contents, *args, **kwargs):
        """Write ``script_name`` with the eunet_ros wrapper instead of setuptools' one."""
        contents = _wrapper(self.distribution, script_name, contents)
        return super().write_script(script_name, contents, *args, **kwargs)


def share(folder, pattern='*'):
    """Install every file of ``folder`` matching ``pattern`` into share/eunet_ros/folder."""
    files = [f for f in glob(os.path.join(folder, pattern)) if os.path.isfile(f)]
    return (os.path.join('share', package_name, folder), files)


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'training', 'training.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        share('launch', '*.launch.py'),
        share('config', '*.yaml'),
        share('config', '*.rviz'),
        share('config', '*.xml'),
        share('models', '*.pt'),
        share('models', '*.md'),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='eunet_ros maintainers',
    maintainer_email='maintainers@eunet-ros.example',
    description='EUnet real-time semantic segmentation for Formula Student driverless cars',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'benchmark = eunet_ros.benchmark:main',
            'segment_node = eunet_ros.ros.segment_node:main',
            'segment_lifecycle_node = eunet_ros.ros.segment_lifecycle_node:main',
            'camera_replay = eunet_ros.ros.camera_replay:main',
            'eunet_bag = eunet_ros.bag:main',
        ],
    },
    cmdclass={'install_scripts': InstallScripts, 'develop': Develop},
)
