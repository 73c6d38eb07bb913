/*
 * veild.c: the exchange daemon's event loop, in the manner of Redis's ae:
 * one thread, one epoll set, non-blocking sockets, every input bounded.
 * Clients speak msgpack-RPC on a Unix socket; a request is scanned for its
 * end (frame_scan: no allocation for what is not yet complete or is over
 * the cap), then unpacked and dispatched. Work that takes time (checking
 * and ingesting uploads, running jobs) goes to runner threads, which hand
 * answers back through an eventfd; a timer publishes ended jobs on a
 * fixed tick.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "frame.h"
#include "spawner.h"
#include "veild.h"

#define PREAUTH_IDLE_MS	10000

static struct client *clients;
static uint64_t next_gen = 1;
static int epfd = -1;

int64_t
veild_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct client *
veild_client_by_gen(uint64_t gen)
{
	struct client *c;

	for (c = clients; c != NULL; c = c->next)
		if (c->gen == gen)
			return c;
	return NULL;
}

static void
client_free(struct veild *d, struct client *c)
{
	struct client **pp;

	for (pp = &clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	veild_forget_client(d, c);
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void
client_want(struct client *c)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (c->outlen > c->outoff ? EPOLLOUT : 0);
	ev.data.ptr = c;
	(void)epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is buffered; returns -1 if the client is gone. */
static int
client_flush(struct client *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		c->outoff += (size_t)n;
	}
	if (c->outoff == c->outlen) {
		c->outoff = c->outlen = 0;
		if (c->closing)
			return -1;
	}
	client_want(c);
	return 0;
}

static int
out_append(struct client *c, const void *p, size_t n)
{
	size_t cap;
	char *o;

	if (c->outlen - c->outoff + n > VEILD_OUTPUT_MAX)
		return -1;	/* a client that never reads */
	if (c->outoff > 0 && c->outlen + n > c->outcap) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outlen + n > c->outcap) {
		cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + n)
			cap *= 2;
		if ((o = realloc(c->out, cap)) == NULL)
			return -1;
		c->out = o;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	return 0;
}

void
veild_reply(struct veild *d, struct client *c, uint32_t id,
    const struct rpc_err *e, const msgpack_sbuffer *result)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	(void)d;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_uint32(&pk, id);
	if (e != NULL && e->code != 0) {
		msgpack_pack_map(&pk, 2);
		frame_pack_cstr(&pk, "code");
		msgpack_pack_int(&pk, e->code);
		frame_pack_cstr(&pk, "message");
		frame_pack_cstr(&pk, e->msg);
		msgpack_pack_nil(&pk);
	} else {
		msgpack_pack_nil(&pk);
		if (result != NULL && result->size > 0)
			msgpack_sbuffer_write(&sb, result->data, result->size);
		else
			msgpack_pack_map(&pk, 0);
	}
	if (out_append(c, sb.data, sb.size) != 0)
		c->closing = 1;
	msgpack_sbuffer_destroy(&sb);
	if (client_flush(c) != 0)
		c->closing = 2;	/* gone: freed by the loop */
}

int
rpc_fail(struct rpc_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* Answers an error and closes: the stream cannot be trusted any more. */
static void
protocol_error(struct veild *d, struct client *c, uint32_t id, int code,
    const char *msg)
{
	struct rpc_err e;

	rpc_fail(&e, code, "%s", msg);
	veild_reply(d, c, id, &e, NULL);
	c->closing = 1;
	if (c->outlen == c->outoff)
		c->closing = 2;
}

/* Handles one complete message of len bytes at p. */
static void
handle_message(struct veild *d, struct client *c, const char *p, size_t len)
{
	msgpack_unpacked up;
	msgpack_sbuffer res;
	msgpack_packer pk;
	const msgpack_object *a, *params;
	struct veil_err verr;
	struct rpc_err e;
	uint32_t id = 0;
	int r;

	msgpack_unpacked_init(&up);
	if (frame_unpack(p, len, &up, &verr) != 0) {
		protocol_error(d, c, 0, RPC_BAD_REQUEST, verr.msg);
		goto out;
	}
	a = &up.data;
	if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 4 ||
	    a->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a->via.array.ptr[0].via.u64 != 0 ||
	    a->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a->via.array.ptr[1].via.u64 > UINT32_MAX ||
	    a->via.array.ptr[2].type != MSGPACK_OBJECT_STR) {
		protocol_error(d, c, 0, RPC_BAD_REQUEST, "not a msgpack-RPC "
		    "request: expected [0, id, method, params]");
		goto out;
	}
	id = (uint32_t)a->via.array.ptr[1].via.u64;
	params = &a->via.array.ptr[3];
	if (params->type == MSGPACK_OBJECT_ARRAY &&
	    params->via.array.size == 1)
		params = &params->via.array.ptr[0];
	else if (params->type == MSGPACK_OBJECT_ARRAY &&
	    params->via.array.size == 0)
		params = NULL;
	else if (params->type == MSGPACK_OBJECT_NIL)
		params = NULL;
	if (params != NULL && params->type != MSGPACK_OBJECT_MAP) {
		rpc_fail(&e, RPC_BAD_REQUEST, "params: expected a map");
		veild_reply(d, c, id, &e, NULL);
		goto out;
	}
	if (c->pending >= VEILD_PENDING_MAX) {
		rpc_fail(&e, RPC_TOO_LARGE, "more than %d requests waiting "
		    "for answers", VEILD_PENDING_MAX);
		veild_reply(d, c, id, &e, NULL);
		goto out;
	}
	msgpack_sbuffer_init(&res);
	msgpack_packer_init(&pk, &res, msgpack_sbuffer_write);
	memset(&e, 0, sizeof(e));
	r = veild_dispatch(d, c, id, a->via.array.ptr[2].via.str.ptr,
	    a->via.array.ptr[2].via.str.size, params, &pk, &e);
	if (r == RPC_DEFERRED)
		c->pending++;
	else
		veild_reply(d, c, id, r == 0 ? NULL : &e, r == 0 ? &res : NULL);
	msgpack_sbuffer_destroy(&res);
	if (r == RPC_UNAUTHENTICATED && c->party == 0 &&
	    ++c->auth_failures >= 3)
		c->closing = c->outlen == c->outoff ? 2 : 1;
 out:
	msgpack_unpacked_destroy(&up);
}

static void
client_read(struct veild *d, struct client *c)
{
	struct veil_err verr;
	size_t cap, objlen, off;
	ssize_t n;
	char *p;
	int r;

	for (;;) {
		cap = c->party ? VEILD_REQUEST_MAX : VEILD_PREAUTH_MAX;
		if (c->incap - c->inlen < 4096) {
			size_t ncap = c->incap ? c->incap * 2 : 8192;

			if (ncap > cap + 8192)
				ncap = cap + 8192;
			if (ncap <= c->incap) {
				protocol_error(d, c, 0, RPC_TOO_LARGE,
				    "request over the size cap");
				return;
			}
			if ((p = realloc(c->in, ncap)) == NULL) {
				c->closing = 2;
				return;
			}
			c->in = p;
			c->incap = ncap;
		}
		n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				c->closing = 2;
			break;
		}
		if (n == 0) {
			c->closing = 2;
			break;
		}
		c->inlen += (size_t)n;
		off = 0;
		while (off < c->inlen && !c->closing) {
			cap = c->party ? VEILD_REQUEST_MAX : VEILD_PREAUTH_MAX;
			r = frame_scan(c->in + off, c->inlen - off, cap, &objlen,
			    &verr);
			if (r == FRAME_MORE)
				break;
			if (r != 0) {
				protocol_error(d, c, 0, r == VEIL_E_LIMIT ?
				    RPC_TOO_LARGE : RPC_BAD_REQUEST, verr.msg);
				break;
			}
			handle_message(d, c, c->in + off, objlen);
			off += objlen;
		}
		if (off > 0) {
			memmove(c->in, c->in + off, c->inlen - off);
			c->inlen -= off;
		}
		if (c->closing)
			break;
	}
}

static void
client_accept(int lfd)
{
	struct epoll_event ev;
	struct client *c;
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->gen = next_gen++;
		c->connected_ms = veild_now_ms();
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = clients;
		clients = c;
	}
}

/* Answers that runner threads finished. */
static void
drain_tasks(struct veild *d)
{
	struct task *t, *list;
	struct client *c;
	struct rpc_err e;

	pthread_mutex_lock(&d->mu);
	list = d->done;
	d->done = NULL;
	d->done_tail = &d->done;
	pthread_mutex_unlock(&d->mu);
	while ((t = list) != NULL) {
		list = t->next;
		if ((c = veild_client_by_gen(t->gen)) != NULL) {
			c->pending--;
			e.code = t->code;
			snprintf(e.msg, sizeof(e.msg), "%s", t->msg);
			veild_reply(d, c, t->reqid, t->code ? &e : NULL,
			    &t->result);
		}
		veild_task_free(t);
	}
}

static void
reap_clients(struct veild *d, int64_t now)
{
	struct client *c, *next;

	for (c = clients; c != NULL; c = next) {
		next = c->next;
		if (c->party == 0 && now - c->connected_ms > PREAUTH_IDLE_MS)
			c->closing = 2;
		if (c->closing == 2)
			client_free(d, c);
	}
}

static int
listen_socket(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "veild: %s: socket path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	/* A socket left by a killed daemon: connect tells live from stale. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		fprintf(stderr, "veild: %s: another veild is serving this "
		    "home\n", path);
		close(fd);
		return -1;
	}
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, 128) != 0) {
		fprintf(stderr, "veild: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* After a crash: interrupted jobs run again (nothing of theirs was
 * released: a job's end commits in one transaction), half uploads go,
 * table files without a data set go. */
static int
recover(struct veild *d)
{
	sqlite3 *db = catalog_db(d->cat);
	sqlite3_stmt *st;
	struct dirent *de;
	char path[PATH_MAX], name[PATH_MAX];
	DIR *dir;
	int n, keep;

	/* Ended jobs whose publication (not fsynced) a crash undid are
	 * published again. */
	if (sqlite3_exec(db, "UPDATE job SET state = 'queued' WHERE state = "
	    "'running'", NULL, NULL, NULL) != SQLITE_OK ||
	    (n = sqlite3_changes(db), 0) ||
	    sqlite3_exec(db, "UPDATE job SET published = 1 WHERE published = 0 "
	    "AND state IN ('done', 'failed', 'refused'); DELETE FROM upload;",
	    NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "veild: recovery: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	if (n > 0)
		fprintf(stderr, "veild: recovery: requeued %d interrupted "
		    "jobs\n", n);
	snprintf(path, sizeof(path), "%s/uploads", d->home);
	if ((dir = opendir(path)) != NULL) {
		while ((de = readdir(dir)) != NULL)
			if (de->d_name[0] != '.' && unlinkat(dirfd(dir),
			    de->d_name, 0) != 0)
				fprintf(stderr, "veild: %s/%s: %s\n", path,
				    de->d_name, strerror(errno));
		closedir(dir);
	}
	snprintf(path, sizeof(path), "%s/datasets", d->home);
	if ((dir = opendir(path)) == NULL) {
		fprintf(stderr, "veild: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM dataset WHERE name = ? AND "
	    "state <> 'revoked'", -1, &st, NULL) != SQLITE_OK) {
		closedir(dir);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		keep = 0;
		if (l > 3 && strcmp(de->d_name + l - 3, ".vt") == 0) {
			snprintf(name, sizeof(name), "%.*s", (int)(l - 3),
			    de->d_name);
			sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
			keep = sqlite3_step(st) == SQLITE_ROW;
			sqlite3_reset(st);
		}
		if (!keep) {
			fprintf(stderr, "veild: recovery: removing %s/%s (no "
			    "data set)\n", path, de->d_name);
			(void)unlinkat(dirfd(dir), de->d_name, 0);
		}
	}
	sqlite3_finalize(st);
	closedir(dir);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: veild --home DIR [--workers N] [--tick-ms MS] "
	    "[--socket PATH] [--max-upload BYTES]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "home",	required_argument, NULL, 'h' },
		{ "workers",	required_argument, NULL, 'w' },
		{ "tick-ms",	required_argument, NULL, 't' },
		{ "socket",	required_argument, NULL, 's' },
		{ "worker",	required_argument, NULL, 'W' },
		{ "max-upload",	required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 }
	};
	static struct veild d;
	struct epoll_event ev, evs[64];
	struct itimerspec its;
	struct veil_err err;
	struct client *c;
	sigset_t mask;
	char sock[PATH_MAX], exe[PATH_MAX], *slash;
	const char *home = NULL, *sockpath = NULL, *worker = NULL;
	int ch, lfd, sfd, tfd, n, i;
	uint64_t u;
	ssize_t rn;
	long v;

	d.nworkers = 2;
	d.tick_ms = 10;
	d.max_upload = 4ULL << 30;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			home = optarg;
			break;
		case 'w':
			v = strtol(optarg, &slash, 10);
			if (*slash != '\0' || v < 1 || v > 256)
				usage();
			d.nworkers = (int)v;
			break;
		case 't':
			v = strtol(optarg, &slash, 10);
			if (*slash != '\0' || v < 1 || v > 10000)
				usage();
			d.tick_ms = (int)v;
			break;
		case 's':
			sockpath = optarg;
			break;
		case 'W':
			worker = optarg;
			break;
		case 'U':
			errno = 0;
			u = strtoull(optarg, &slash, 10);
			if (errno != 0 || *slash != '\0' || u == 0)
				usage();
			d.max_upload = u;
			break;
		default:
			usage();
		}
	}
	if (home == NULL || optind != argc)
		usage();
	if (realpath(home, exe) == NULL) {
		fprintf(stderr, "veild: %s: %s (create an exchange with veil "
		    "init --home %s)\n", home, strerror(errno), home);
		return 1;
	}
	if (strlen(exe) >= sizeof(d.home)) {
		fprintf(stderr, "veild: %s: path too long\n", exe);
		return 1;
	}
	memcpy(d.home, exe, strlen(exe) + 1);
	if (worker == NULL)
		worker = getenv("VEIL_WORKER");
	if (worker != NULL) {
		if (strlen(worker) >= sizeof(d.worker))
			usage();
		memcpy(d.worker, worker, strlen(worker) + 1);
	} else {
		if ((rn = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
			return 1;
		exe[rn] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		if (strlen(exe) > sizeof(d.worker) - 32)
			return 1;
		snprintf(d.worker, sizeof(d.worker), "%.960s/veil-worker",
		    exe);
		if (access(d.worker, X_OK) != 0)
			snprintf(d.worker, sizeof(d.worker),
			    "%.960s/../libexec/veil/veil-worker", exe);
	}
	if (access(d.worker, X_OK) != 0) {
		fprintf(stderr, "veild: %s: %s\n", d.worker, strerror(errno));
		return 1;
	}
	/* veil-ingest lives beside veil-worker. */
	slash = strrchr(d.worker, '/');
	rn = slash != NULL ? slash - d.worker + 1 : 0;
	if (snprintf(d.ingest, sizeof(d.ingest), "%.*sveil-ingest", (int)rn,
	    d.worker) >= (int)sizeof(d.ingest) ||
	    access(d.ingest, X_OK) != 0) {
		fprintf(stderr, "veild: %s: %s\n", d.ingest, strerror(errno));
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/veil.db", d.home);
	if (access(sock, F_OK) != 0) {
		fprintf(stderr, "veild: %s holds no exchange (create one with "
		    "veil init --home %s)\n", d.home, d.home);
		return 1;
	}
	if ((d.cat = catalog_open(d.home, &err)) == NULL) {
		fprintf(stderr, "veild: %s\n", err.msg);
		return 1;
	}
	if (recover(&d) != 0)
		return 1;
	pthread_mutex_init(&d.wmu, NULL);
	catalog_share_lock(d.cat, &d.wmu);
	if (sockpath == NULL) {
		snprintf(sock, sizeof(sock), "%s/veil.sock", d.home);
		sockpath = sock;
	}
	/* Catalog, WAL, tables, uploads: the daemon's alone. The socket
	 * is opened up to the group explicitly. */
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* Blocked before any thread starts, so all of them inherit it. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    (tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) == -1 ||
	    (d.notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("veild");
		return 1;
	}
	if ((lfd = listen_socket(sockpath)) == -1)
		return 1;
	memset(&its, 0, sizeof(its));
	its.it_interval.tv_sec = d.tick_ms / 1000;
	its.it_interval.tv_nsec = (long)(d.tick_ms % 1000) * 1000000;
	its.it_value = its.it_interval;
	timerfd_settime(tfd, 0, &its, NULL);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &lfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &sfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.ptr = &tfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.ptr = &d.notify_fd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, d.notify_fd, &ev);
	/* One empty network namespace for all workers, where root. */
	if (spawner_share_netns(&err) != 0)
		fprintf(stderr, "veild: %s\n", err.msg);
	if (veild_runners_start(&d) != 0) {
		fprintf(stderr, "veild: cannot start runner threads\n");
		return 1;
	}
	fprintf(stderr, "veild: listening on %s (%d workers, tick %d ms%s)\n",
	    sockpath, d.nworkers, d.tick_ms, spawner_netns() >= 0 ?
	    ", one shared empty network namespace" : "");

	for (;;) {
		n = epoll_wait(epfd, evs, 64, -1);
		if (n == -1 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &lfd)
				client_accept(lfd);
			else if (p == &sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si))
					goto stop;
			} else if (p == &tfd) {
				(void)!read(tfd, &u, sizeof(u));
				veild_tick(&d);
				reap_clients(&d, veild_now_ms());
			} else if (p == &d.notify_fd) {
				(void)!read(d.notify_fd, &u, sizeof(u));
				drain_tasks(&d);
			} else {
				c = p;
				if (evs[i].events & (EPOLLIN | EPOLLHUP |
				    EPOLLERR))
					client_read(&d, c);
				if (!c->closing && (evs[i].events & EPOLLOUT) &&
				    client_flush(c) != 0)
					c->closing = 2;
				if (c->closing == 1 && c->outlen == c->outoff)
					c->closing = 2;
				if (c->closing == 2)
					client_free(&d, c);
			}
		}
	}
 stop:
	/* Graceful: no new connections; running jobs finish (or, if a
	 * worker is killed, are requeued at the next start); queued jobs
	 * stay queued in the catalog. */
	fprintf(stderr, "veild: stopping: letting running jobs finish\n");
	close(lfd);
	(void)unlink(sockpath);
	veild_runners_stop(&d);
	drain_tasks(&d);
	veild_tick(&d);
	while (clients != NULL) {
		(void)client_flush(clients);
		client_free(&d, clients);
	}
	for (i = 0; i < (int)d.nmemfds; i++)
		close(d.memfds[i].fd);
	free(d.memfds);
	catalog_close(d.cat);
	fprintf(stderr, "veild: stopped\n");
	return 0;
}
