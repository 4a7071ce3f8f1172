"""@rules_cc//cc:defs.bzl as Bazel 4's own tools use it: each rule is the built-in native one.

Bazel 4.2 loads these names from @rules_cc while it sets up its C++ toolchain, and would download
rules_cc from GitHub to get them (see bazel/offline/README.md).
"""

def cc_binary(**attrs):
    native.cc_binary(**attrs)

def cc_import(**attrs):
    native.cc_import(**attrs)

def cc_library(**attrs):
    native.cc_library(**attrs)

def cc_proto_library(**attrs):
    native.cc_proto_library(**attrs)

def cc_test(**attrs):
    native.cc_test(**attrs)

def cc_toolchain(**attrs):
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**attrs)

def objc_library(**attrs):
    native.objc_library(**attrs)
