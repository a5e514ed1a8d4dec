{
  "targets": [
    {
      "target_name": "handover",
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "native/addon.cc",
            "native/errors.cc",
            "native/spawn_linux.cc",
            "native/spawn_fork.cc",
            "native/child_setup.cc",
            "native/signal_block_linux.cc",
            "native/close_fds_linux.cc",
            "native/child_wait.cc",
            "native/child_waiters.cc",
            "native/detached_thread.cc",
            "native/module_pin_linux.cc",
            "native/exit_watch_linux.cc",
            "native/fd_inspect.cc",
            "native/notify.cc",
            "native/socket_listen.cc",
            "native/user_lookup.cc",
            "native/peer_cred_linux.cc",
            "native/reap.cc",
            "native/reap_linux.cc",
            "native/reexec.cc"
          ],
          "ldflags": ["-Wl,-z,nodelete"]
        }],
        ["OS=='mac'", {
          "sources": [
            "native/addon.cc",
            "native/errors.cc",
            "native/spawn_darwin.cc",
            "native/spawn_fork.cc",
            "native/child_setup.cc",
            "native/signal_block_darwin.cc",
            "native/close_fds_darwin.cc",
            "native/child_wait.cc",
            "native/child_waiters.cc",
            "native/detached_thread.cc",
            "native/module_pin_darwin.cc",
            "native/exit_watch_darwin.cc",
            "native/fd_inspect.cc",
            "native/notify.cc",
            "native/socket_listen.cc",
            "native/user_lookup.cc",
            "native/peer_cred_darwin.cc",
            "native/reap.cc",
            "native/reap_darwin.cc",
            "native/reexec.cc"
          ],
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "10.15"
          }
        }]
      ]
    }
  ]
}
