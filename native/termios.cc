// dt's two calls to termios(3), which Node does not offer: full raw mode for the attaching
// client's terminal (Node's setRawMode leaves output post-processing on, and a few input
// flags), and the local modes of the program's terminal for the ctrl_l redraw. Without them
// each took a child process (stty), forked from the whole Node process.
//
// Each takes a descriptor and returns 0 or an errno value, never throws: the callers decide
// what a failure means (a terminal that hung up, a descriptor that is not a terminal).

#include <errno.h>
#include <termios.h>
#include <node_api.h>

/** The descriptor given as the first argument, or -1. */
static int descriptor_argument(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return -1;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return -1;
  return fd;
}

static napi_value number(napi_env env, int32_t value) {
  napi_value result;
  napi_create_int32(env, value, &result);
  return result;
}

/**
 * makeRaw(fd): the terminal's modes as cfmakeraw(3) makes them (and VMIN 1, VTIME 0, which
 * glibc's cfmakeraw sets too), applied once output already written has been sent (TCSADRAIN,
 * as stty and libuv do): 0, or errno.
 */
static napi_value make_raw(napi_env env, napi_callback_info info) {
  int fd = descriptor_argument(env, info);
  if (fd < 0) return number(env, EBADF);
  struct termios modes;
  if (tcgetattr(fd, &modes) != 0) return number(env, errno);
  cfmakeraw(&modes);
  modes.c_cc[VMIN] = 1;
  modes.c_cc[VTIME] = 0;
  int result;
  do {
    result = tcsetattr(fd, TCSADRAIN, &modes);
  } while (result != 0 && errno == EINTR);
  return number(env, result == 0 ? 0 : errno);
}

/**
 * localModes(fd): [0, c_lflag, VMIN] of the terminal (for a pty's master side, its
 * terminal's: Linux answers for the other end), or [errno].
 */
static napi_value local_modes(napi_env env, napi_callback_info info) {
  int fd = descriptor_argument(env, info);
  struct termios modes;
  napi_value result;
  if (fd < 0 || tcgetattr(fd, &modes) != 0) {
    napi_create_array_with_length(env, 1, &result);
    napi_set_element(env, result, 0, number(env, fd < 0 ? EBADF : errno));
    return result;
  }
  napi_create_array_with_length(env, 3, &result);
  napi_set_element(env, result, 0, number(env, 0));
  napi_set_element(env, result, 1, number(env, (int32_t)modes.c_lflag));
  napi_set_element(env, result, 2, number(env, modes.c_cc[VMIN]));
  return result;
}

NAPI_MODULE_INIT() {
  napi_value make_raw_function, local_modes_function;
  napi_create_function(env, "makeRaw", NAPI_AUTO_LENGTH, make_raw, NULL, &make_raw_function);
  napi_create_function(env, "localModes", NAPI_AUTO_LENGTH, local_modes, NULL, &local_modes_function);
  napi_set_named_property(env, exports, "makeRaw", make_raw_function);
  napi_set_named_property(env, exports, "localModes", local_modes_function);
  return exports;
}
