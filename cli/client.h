/*
 * client.h: a client of veild, used by the exchange commands of veil and
 * by the benchmarks. It finds the daemon's socket and the caller's token,
 * connects, authenticates, and calls methods over msgpack-RPC
 * (docs/protocol.md), one at a time, blocking.
 *
 * No globals and no exit(): every failure comes back as a code and one
 * line of text, so that one process may hold many clients (one per
 * thread; a client itself is not thread-safe).
 */
#ifndef VEIL_CLIENT_H
#define VEIL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "error.h"

#define CLIENT_RESPONSE_MAX	(64u << 20)	/* larger answers are refused */
#define CLIENT_TOKEN_MAX	256

/* The error codes of docs/protocol.md, as veild sends them. */
#define CLIENT_E_INTERNAL	1
#define CLIENT_E_BAD_REQUEST	2
#define CLIENT_E_JOB_FAILED	3
#define CLIENT_E_REFUSED	4
#define CLIENT_E_UNAUTHENTICATED 5
#define CLIENT_E_FORBIDDEN	6
#define CLIENT_E_NOT_FOUND	7
#define CLIENT_E_EXISTS		8
#define CLIENT_E_TOO_LARGE	9
#define CLIENT_E_SHUTTING_DOWN	10
/* Failures on this side; veild never sends these. */
#define CLIENT_E_CONNECTION	-1	/* send or receive failed, or EOF */
#define CLIENT_E_PROTOCOL	-2	/* not msgpack-RPC, or over the cap */
#define CLIENT_E_LOCAL		-3	/* out of memory, bad argument */

struct rpc_error {
	int	 code;		/* 0, a protocol code, or CLIENT_E_* */
	char	 message[512];
};

/*
 * Where to connect and who to be. NULL fields fall back on the
 * environment:
 *   socket: socket, else $VEIL_SOCKET, else HOME/veil.sock with HOME =
 *           home, else $VEIL_HOME;
 *   token:  token, else the first line of token_file, else $VEIL_TOKEN,
 *           else the first line of the file named by $VEIL_TOKEN_FILE.
 * (An explicit --token-file beats an exported VEIL_TOKEN, so that one
 * shell can act as several parties.)
 */
struct client_opts {
	const char	*home;
	const char	*socket;
	const char	*token;
	const char	*token_file;
};

struct client;

/*
 * Connects and authenticates. Returns NULL with err set: VEIL_E_INVALID
 * when no socket or token is configured (or a token file is unusable),
 * VEIL_E_IO when the daemon cannot be reached or refuses the token,
 * VEIL_E_NOMEM or VEIL_E_INTERNAL otherwise. The message names the
 * socket and says what to do.
 */
struct client	*client_connect(const struct client_opts *,
		    struct veil_err *err);
void		 client_close(struct client *);

/*
 * Calls method with params (the bytes of one packed msgpack map, or
 * NULL for {}) and waits for its answer. Returns 0 with result->data set
 * to the method's result (result was msgpack_unpacked_init'ed by the
 * caller, who destroys it); or the error code with e filled (e may be
 * NULL). A connection that failed stays failed: later calls return
 * CLIENT_E_CONNECTION.
 */
int		 client_call(struct client *, const char *method,
		    const msgpack_sbuffer *params, msgpack_unpacked *result,
		    struct rpc_error *e);

/* Who the daemon says we are (from auth), and where we connected. */
const char	*client_party(const struct client *);
const char	*client_role(const struct client *);
const char	*client_socket(const struct client *);

/* The veil command's exit code for an error code (docs/protocol.md). */
int		 client_exit_code(int code);
/* The protocol name of an error code ("not_found"), never NULL. */
const char	*client_code_name(int code);

/*
 * Resolves the socket path as client_connect() does. Returns 0; -1 if
 * none is configured; -2 if it does not fit in len.
 */
int		 client_socket_path(const struct client_opts *, char *buf,
		    size_t len);

#endif /* VEIL_CLIENT_H */
