/*
 * confine.h: how a veil-worker confines itself before it parses anything
 * untrusted. The steps, in order:
 *
 *   1. close every descriptor but the ones it was given (close_range);
 *   2. if root, become nobody (65534) outside any namespace;
 *   3. new user, mount, network, IPC, PID and UTS namespaces, the user
 *      namespace mapping only that unprivileged uid; or, when the spawner
 *      shares one (spawner_share_netns), the empty network namespace it
 *      made, joined while still privileged, before step 2 (a network
 *      namespace costs more to make and tear down than the rest of a
 *      small job; the worker holds no capability over the shared one);
 *   4. an empty, read-only root (a tmpfs, pivot_root, old root detached);
 *   5. rlimits: AS and DATA = the memory limit, CPU, NOFILE = the
 *      descriptors it holds, FSIZE 0, NPROC 0, CORE 0;
 *   6. no capabilities, PR_SET_DUMPABLE 0, PR_SET_NO_NEW_PRIVS;
 *   7. the seccomp filter (filter.h): allowlist, KILL_PROCESS by default.
 *
 * Steps 3 and 4 are skipped where the kernel refuses them (EPERM), and the
 * level reached says so; step 7 failing is fatal (fail closed). Used by
 * veil-worker and, identically, by the test-only probe program.
 *
 * A fork server (opts.zygote, worker.c) confines itself the same way,
 * with three differences, and each child it forks finishes the job with
 * confine_child() before it reads anything untrusted:
 *   - rlimits: no NPROC 0 and no CPU limit yet (the server forks, and
 *     its CPU time is not a job's); NOFILE leaves room for the
 *     descriptors of one request (CONFINE_ZYGOTE_FDS);
 *   - the filter is the fork server's (filter_gen.c), a superset of the
 *     job filter, which each child stacks on top;
 *   - in the new PID namespace the process that called confine_self()
 *     stays outside as a shell: it forks the server, which is the
 *     namespace's init, closes everything and waits for it. The server
 *     dies with the shell (PR_SET_PDEATHSIG), and every child dies with
 *     the server, the namespace's init. Its children so share a PID
 *     namespace with each other, and with nothing else.
 */
#ifndef VEIL_CONFINE_H
#define VEIL_CONFINE_H

#include <stddef.h>
#include <stdint.h>

/* Confinement levels, reported with every job. */
#define CONFINE_SECCOMP		0x01	/* seccomp filter installed */
#define CONFINE_RLIMITS		0x02
#define CONFINE_NOPRIV		0x04	/* no_new_privs, not dumpable */
#define CONFINE_USERNS		0x08	/* user namespace, unprivileged uid */
#define CONFINE_NAMESPACES	0x10	/* mount, net, IPC, PID, UTS */
#define CONFINE_EMPTYROOT	0x20	/* empty read-only root */
#define CONFINE_UNPRIV		0x40	/* not root outside */
#define CONFINE_FULL		0x7f

struct confine_opts {
	int		keep_fds;	/* descriptors 0..keep_fds-1 stay */
	uint64_t	memory_bytes;	/* RLIMIT_AS and RLIMIT_DATA */
	uint64_t	cpu_seconds;	/* RLIMIT_CPU soft; hard is +1 */
	int		no_seccomp;	/* tests only: stop before step 7 */
	int		netns_fd;	/* a network namespace to join, or -1 */
	int		zygote;		/* a fork server: see above */
};

/* Descriptors a fork server may hold besides keep_fds: one request's
 * three and the child's pidfd. */
#define CONFINE_ZYGOTE_FDS	4

/*
 * Runs the steps above. Returns 0 with *levelp set, or -1 with errno set
 * and *stepp naming the step that failed; after a failure the caller must
 * exit without touching untrusted input.
 */
int		 confine_self(const struct confine_opts *, unsigned int *levelp,
		    const char **stepp);
/*
 * A fork server's loop, after confine_self() with opts.zygote: takes
 * requests on descriptor 0 (worker_proto.h, "Fork server") and forks a
 * child for each. Returns only in a child, whose descriptors 0, 1 and 2
 * are then its request's and whose others above keep_fds are closed; the
 * child must call confine_child() before it reads anything. The server
 * exits when the socket closes, or with a line on descriptor 2 on a
 * malformed request.
 */
void		 confine_serve(const struct confine_opts *);
/*
 * In a child of a fork server (confine_serve), once it has done what must
 * be done before the job filter: RLIMIT_NPROC 0, the CPU limit,
 * NOFILE = keep_fds, and the job filter stacked on the server's. Returns
 * 0, or -1 with errno set and *stepp naming the step; the child must
 * then exit.
 */
int		 confine_child(const struct confine_opts *, const char **stepp);
/* "full", or a comma-separated list of the parts reached. */
const char	*confine_describe(unsigned int level, char *buf, size_t len);

#endif /* VEIL_CONFINE_H */
