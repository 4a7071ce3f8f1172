"""@rules_java//java:defs.bzl as Bazel 4's own tools use it: each rule is the built-in native one.

Bazel 4.2 reads @bazel_tools//tools/jdk, which loads these names, while it registers toolchains,
and would download rules_java from GitHub to get them (see bazel/offline/README.md).
"""

def java_binary(**attrs):
    native.java_binary(**attrs)

def java_import(**attrs):
    native.java_import(**attrs)

def java_library(**attrs):
    native.java_library(**attrs)

def java_proto_library(**attrs):
    native.java_proto_library(**attrs)

def java_runtime(**attrs):
    native.java_runtime(**attrs)

def java_toolchain(**attrs):
    native.java_toolchain(**attrs)
