from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'eunet_ros'


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
            'camera_replay = eunet_ros.ros.camera_replay:main',
        ],
    },
)
