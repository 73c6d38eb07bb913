/*
 * confine.c: a process confining itself (see confine.h). Only trusted,
 * fixed work happens here; nothing untrusted has been read yet.
 */
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "confine.h"
#include "filter.h"
#include "worker_proto.h"

#define NOBODY		65534

static int
write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd, r = -1;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	if (write(fd, text, len) == (ssize_t)len)
		r = 0;
	close(fd);
	return r;
}

static int
close_fds(int keep)
{
	struct rlimit rl;
	int fd;

	if (syscall(SYS_close_range, (unsigned)keep, ~0U, 0) == 0)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	for (fd = keep; (rlim_t)fd < rl.rlim_cur && fd < 65536; fd++)
		close(fd);
	return 0;
}

static int
drop_root(void)
{
	gid_t g = NOBODY;

	if (geteuid() != 0)
		return 0;
	if (setgroups(1, &g) == -1 || setresgid(NOBODY, NOBODY, NOBODY) == -1 ||
	    setresuid(NOBODY, NOBODY, NOBODY) == -1)
		return -1;
	if (setuid(0) != -1)	/* paranoia: the drop must be permanent */
		return -1;
	/*
	 * Changing ids cleared the dumpable flag, which makes /proc/self
	 * root's and so uid_map unwritable; it is cleared again for good in
	 * drop_privileges().
	 */
	return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

/* A user namespace that maps only our own, unprivileged ids. */
static int
enter_userns(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (unshare(CLONE_NEWUSER) == -1)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
	if (write_file("/proc/self/uid_map", map) == -1)
		return -1;
	if (write_file("/proc/self/setgroups", "deny") == -1)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
	return write_file("/proc/self/gid_map", map);
}

/*
 * An empty root: a tiny read-only tmpfs, made the root by pivot_root with
 * the old root stacked under it and then detached, so no path leads out.
 */
static int
empty_root(void)
{
	static const char *const dirs[] = { "/tmp", "/mnt", "/proc", NULL };
	int i;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		return -1;
	for (i = 0; dirs[i] != NULL; i++)
		if (mount("veil", dirs[i], "tmpfs", MS_NOSUID | MS_NODEV |
		    MS_NOEXEC, "size=4k,nr_inodes=2,mode=0555") == 0)
			break;
	if (dirs[i] == NULL)
		return -1;
	if (chdir(dirs[i]) == -1 ||
	    syscall(SYS_pivot_root, ".", ".") == -1 ||
	    umount2(".", MNT_DETACH) == -1 || chdir("/") == -1)
		return -1;
	return mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID |
	    MS_NODEV | MS_NOEXEC, NULL);
}

static int
limit(int res, rlim_t soft, rlim_t hard)
{
	struct rlimit rl;

	rl.rlim_cur = soft;
	rl.rlim_max = hard;
	return setrlimit(res, &rl);
}

static int
set_limits(const struct confine_opts *o)
{
	if (o->memory_bytes > 0 &&
	    (limit(RLIMIT_AS, o->memory_bytes, o->memory_bytes) == -1 ||
	    limit(RLIMIT_DATA, o->memory_bytes, o->memory_bytes) == -1))
		return -1;
	if (o->zygote) {
		/* The rest is each child's (confine_child). */
		rlim_t n = (rlim_t)o->keep_fds + CONFINE_ZYGOTE_FDS;

		return limit(RLIMIT_NOFILE, n, n) == -1 ||
		    limit(RLIMIT_FSIZE, 0, 0) == -1 ||
		    limit(RLIMIT_CORE, 0, 0) == -1 ? -1 : 0;
	}
	if (o->cpu_seconds > 0 &&
	    limit(RLIMIT_CPU, o->cpu_seconds, o->cpu_seconds + 1) == -1)
		return -1;
	if (limit(RLIMIT_NOFILE, (rlim_t)o->keep_fds, (rlim_t)o->keep_fds) ==
	    -1 || limit(RLIMIT_FSIZE, 0, 0) == -1 ||
	    limit(RLIMIT_NPROC, 0, 0) == -1 || limit(RLIMIT_CORE, 0, 0) == -1)
		return -1;
	return 0;
}

static int
drop_privileges(void)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[2];

	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capset, &hdr, data) == -1)
		return -1;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	return 0;
}

static int
load_filter(const struct sock_filter *f, size_t len)
{
	struct sock_fprog prog;

	prog.len = (unsigned short)len;
	prog.filter = (struct sock_filter *)f;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/*
 * A fork server in its own PID namespace: the caller forks the server,
 * the namespace's init, and stays behind as a shell that holds nothing
 * and only waits, so that the spawner's pidfd and exit status stay
 * those of the process it started. Returns in the server only.
 */
static int
split_init(void)
{
	pid_t pid;
	int st;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0)
		return prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	(void)syscall(SYS_close_range, 0U, ~0U, 0);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			_exit(127);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

int
confine_self(const struct confine_opts *o, unsigned int *levelp,
    const char **stepp)
{
	unsigned int level = 0;

	*levelp = 0;
	if (o->netns_fd >= 0) {
		*stepp = "join the shared network namespace";
		if (setns(o->netns_fd, CLONE_NEWNET) == -1)
			return -1;
	}
	*stepp = "close descriptors";
	if (close_fds(o->keep_fds) == -1)
		return -1;
	*stepp = "drop root";
	if (drop_root() == -1)
		return -1;
	if (geteuid() != 0)
		level |= CONFINE_UNPRIV;
	/* Namespaces are best effort: EPERM where the host forbids them. */
	if (enter_userns() == 0) {
		level |= CONFINE_USERNS;
		if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID |
		    CLONE_NEWUTS | (o->netns_fd >= 0 ? 0 : CLONE_NEWNET)) ==
		    0) {
			level |= CONFINE_NAMESPACES;
			if (empty_root() == 0)
				level |= CONFINE_EMPTYROOT;
		}
	}
	*stepp = "rlimits";
	if (set_limits(o) == -1)
		return -1;
	level |= CONFINE_RLIMITS;
	*stepp = "capabilities, dumpable, no_new_privs";
	if (drop_privileges() == -1)
		return -1;
	level |= CONFINE_NOPRIV;
	if (o->zygote && (level & CONFINE_NAMESPACES)) {
		*stepp = "fork the server";
		if (split_init() == -1)
			return -1;
	}
	if (!o->no_seccomp) {
		*stepp = "seccomp filter";
		if ((o->zygote ? load_filter(filter_zygote_bpf,
		    filter_zygote_bpf_len) : load_filter(filter_bpf,
		    filter_bpf_len)) == -1)
			return -1;
		level |= CONFINE_SECCOMP;
	}
	*stepp = NULL;
	*levelp = level;
	return 0;
}

int
confine_child(const struct confine_opts *o, const char **stepp)
{
	*stepp = "rlimits";
	if (limit(RLIMIT_NPROC, 0, 0) == -1 || limit(RLIMIT_NOFILE,
	    (rlim_t)o->keep_fds, (rlim_t)o->keep_fds) == -1 ||
	    (o->cpu_seconds > 0 && limit(RLIMIT_CPU, o->cpu_seconds,
	    o->cpu_seconds + 1) == -1))
		return -1;
	if (!o->no_seccomp) {
		*stepp = "seccomp filter";
		if (load_filter(filter_bpf, filter_bpf_len) == -1)
			return -1;
	}
	*stepp = NULL;
	return 0;
}

/* A fixed line to the log descriptor, then the exit. */
static void
die(const char *msg, int code)
{
	(void)!write(2, msg, strlen(msg));
	_exit(code);
}

/* One struct zygote_msg on the socket, with a descriptor if fd != -1. */
static int
zsend(const struct zygote_msg *m, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)m;
	iov.iov_len = sizeof(*m);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd != -1) {
		memset(cm.buf, 0, sizeof(cm.buf));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	/* sendmsg, not send (sendto): the filter has the one */
	return sendmsg(0, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(*m) ? 0 : -1;
}

/*
 * In a child forked ahead: waits for its request (the server reads
 * nothing while a child of its lives) and puts its descriptors in place.
 */
static void
take_request(const struct confine_opts *co)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(3 * sizeof(int))];
	} cm;
	struct zygote_msg m;
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;
	int fds[3], i;
	ssize_t n;

	do {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = &m;
		iov.iov_len = sizeof(m);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
	} while ((n = recvmsg(0, &mh, 0)) == -1 && errno == EINTR);
	if (n == 0)
		_exit(0);	/* the spawner let go */
	c = CMSG_FIRSTHDR(&mh);
	if (n != (ssize_t)sizeof(m) || m.kind != ZYGOTE_FORK ||
	    (mh.msg_flags & MSG_CTRUNC) || c == NULL ||
	    c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(3 * sizeof(int)))
		die("fork server: malformed request\n", WORKER_EXIT_USAGE);
	memcpy(fds, CMSG_DATA(c), sizeof(fds));
	/* Descriptor 0, the socket, goes with the first dup2. */
	for (i = 0; i < 3; i++)
		if (dup2(fds[i], i) == -1)
			die("fork server: dup2 failed\n", WORKER_EXIT_CONFINE);
	if (close_fds(co->keep_fds) == -1)
		die("fork server: close failed\n", WORKER_EXIT_CONFINE);
}

/*
 * Each child is forked ahead of its request and waits for it asleep: a
 * task woken from sleep is scheduled at once, where a new one queues
 * behind whatever else runs (2-3 ms measured on a loaded machine, 0.2
 * without load), and the fork leaves the job's critical path.
 */
void
confine_serve(const struct confine_opts *co)
{
	struct zygote_msg m;
	struct rusage ru;
	int pidfd, st;
	pid_t pid;

	for (;;) {
		if ((pid = fork()) == 0) {
			take_request(co);
			return;
		}
		if (pid == -1)
			die("fork server: fork failed\n", WORKER_EXIT_NOMEM);
		if ((pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) == -1)
			die("fork server: pidfd_open failed\n",
			    WORKER_EXIT_NOMEM);
		memset(&m, 0, sizeof(m));
		m.kind = ZYGOTE_READY;
		m.pid = pid;
		if (zsend(&m, pidfd) == -1)
			_exit(0);	/* the spawner let go */
		close(pidfd);
		/* One child at a time: its end is the spawner's to know. */
		while (wait4(pid, &st, 0, &ru) == -1)
			if (errno != EINTR)
				die("fork server: wait4 failed\n",
				    WORKER_EXIT_USAGE);
		memset(&m, 0, sizeof(m));
		m.kind = ZYGOTE_ENDED;
		m.pid = pid;
		m.value = st;
		m.cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		    1000000 + (uint64_t)(ru.ru_utime.tv_usec +
		    ru.ru_stime.tv_usec);
		if (zsend(&m, -1) == -1)
			_exit(0);
	}
}

const char *
confine_describe(unsigned int level, char *buf, size_t len)
{
	static const struct {
		unsigned int	 bit;
		const char	*name;
	} parts[] = {
		{ CONFINE_SECCOMP, "seccomp" },
		{ CONFINE_RLIMITS, "rlimits" },
		{ CONFINE_NOPRIV, "no_new_privs" },
		{ CONFINE_UNPRIV, "unprivileged" },
		{ CONFINE_USERNS, "userns" },
		{ CONFINE_NAMESPACES, "namespaces" },
		{ CONFINE_EMPTYROOT, "empty-root" },
	};
	size_t i, o = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (level == CONFINE_FULL) {
		snprintf(buf, len, "full");
		return buf;
	}
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]) && o < len; i++)
		if (level & parts[i].bit)
			o += (size_t)snprintf(buf + o, len - o, "%s%s",
			    o ? "," : "", parts[i].name);
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
	return buf;
}
