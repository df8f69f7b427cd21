{
  "targets": [
    {
      "target_name": "termios",
      "sources": ["native/termios.cc"],
      "cflags": ["-Wall"]
    }
  ]
}
