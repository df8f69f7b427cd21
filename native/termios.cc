// dt's calls to termios(3), which Node does not offer: full raw mode for the attaching
// client's terminal (Node's setRawMode leaves output post-processing on, and a few input
// flags), the local modes of the program's terminal for the ctrl_l redraw, and the lines a
// terminal in canonical mode holds, read before it leaves that mode. Without the first two
// each took a child process (stty), forked from the whole Node process.
//
// Each takes a descriptor and never throws: the callers decide what a failure means (a
// terminal that hung up, a descriptor that is not a terminal).

#include <errno.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>
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

/** Room for the longest line a canonical terminal holds (Linux: 4095 bytes and its end). */
#define LINE_BYTES 16384
/** Input a canonical terminal holds (Linux: N_TTY_BUF_SIZE): no more ends of file than that. */
#define MOST_READS 4096

/**
 * cookedLines(fd): what a terminal in canonical mode holds as complete lines, read as the
 * line discipline hands them over, without waiting: a Buffer, empty when there is none, when
 * the terminal is not in canonical mode, or when it fails (hung up). An end of file (^D) typed
 * at the start of a line is in them again, as its character. The terminal keeps an end of
 * file as a mark, not as a byte: a read ends there, and at the start of a line returns
 * nothing, which is how a program in canonical mode sees an end of file. Left in the terminal
 * when it leaves canonical mode, the mark becomes a NUL byte that nobody typed: script(1),
 * when its standard input ends, types ^D into the terminal of the command it runs, and a dt
 * client starting there read it as 0x00.
 *
 * A ^D typed after other keys only hands those keys over, as it does to any program reading
 * the terminal then: it is not put back. A line that reads as ending without its end
 * character may not have been ended by a ^D at all: keys typed while the terminal was out of
 * canonical mode (a shell's line editor reading a command) are handed over so when canonical
 * mode is set again, and taking that for a ^D typed one the user never typed.
 */
static napi_value cooked_lines(napi_env env, napi_callback_info info) {
  static unsigned char lines[MOST_READS + LINE_BYTES];
  unsigned char line[LINE_BYTES];
  size_t length = 0;
  int fd = descriptor_argument(env, info);
  struct termios modes;
  // Without an end-of-file character, every line ends as the kernel shows it from raw mode too.
  bool marks = fd >= 0 && tcgetattr(fd, &modes) == 0 && (modes.c_lflag & ICANON) && !(modes.c_lflag & EXTPROC) &&
    modes.c_cc[VEOF] != _POSIX_VDISABLE;
  for (int reads = 0; marks && reads < MOST_READS && length + sizeof line <= sizeof lines; reads++) {
    // POLLIN: a whole line or an end of file, so the read cannot wait. A hung-up terminal's
    // reads return 0 too, and it says POLLHUP.
    struct pollfd ready = { fd, POLLIN, 0 };
    if (poll(&ready, 1, 0) != 1 || (ready.revents & (POLLHUP | POLLERR | POLLNVAL)) || !(ready.revents & POLLIN)) break;
    ssize_t count = read(fd, line, sizeof line);
    if (count < 0) {
      if (errno == EINTR) continue;
      break; // EAGAIN: nothing whole after all; EIO: hung up
    }
    // A read of 0 that is no end of file: the terminal hung up in between, and refuses now.
    struct termios now;
    if (count == 0 && tcgetattr(fd, &now) != 0) break;
    for (ssize_t at = 0; at < count; at++) lines[length++] = line[at];
    if (count == 0) lines[length++] = modes.c_cc[VEOF];
  }
  napi_value result;
  void *data;
  napi_create_buffer_copy(env, length, lines, &data, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value make_raw_function, local_modes_function, cooked_lines_function;
  napi_create_function(env, "makeRaw", NAPI_AUTO_LENGTH, make_raw, NULL, &make_raw_function);
  napi_create_function(env, "localModes", NAPI_AUTO_LENGTH, local_modes, NULL, &local_modes_function);
  napi_create_function(env, "cookedLines", NAPI_AUTO_LENGTH, cooked_lines, NULL, &cooked_lines_function);
  napi_set_named_property(env, exports, "makeRaw", make_raw_function);
  napi_set_named_property(env, exports, "localModes", local_modes_function);
  napi_set_named_property(env, exports, "cookedLines", cooked_lines_function);
  return exports;
}
