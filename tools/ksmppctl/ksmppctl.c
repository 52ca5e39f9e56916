// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmppctl: load, configure, watch and unload ksmpp.
 *
 * The commands are thin: the knob table (knobs.c), the parsing of
 * /proc/ksmpp (procfile.c), the kernel log filter (kmsg.c) and the outputs
 * (report.c) are pure code with unit tests. This file does the system calls:
 * libkmod for loading and removing the module, sysfs writes for the knobs,
 * /dev/kmsg (or klogctl) for the kernel's reasons when it refuses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libkmod.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ksmppctl.h"
#include "kmsg.h"
#include "knobs.h"
#include "procfile.h"
#include "report.h"

#ifndef KSMPPCTL_VERSION
#define KSMPPCTL_VERSION "unknown"
#endif

#define PROC_KSMPP	"/proc/ksmpp"
#define SYSFS_KSMPP	"/sys/kernel/mm/ksmpp"
#define SYSFS_KSM	"/sys/kernel/mm/ksm"
#define KSM_RUN		SYSFS_KSM "/run"
#define MODPROBE_CONF	"/etc/modprobe.d/ksmpp.conf"
#define MODULES_LOAD_CONF "/etc/modules-load.d/ksmpp.conf"
#define MODULE_NAME	"ksmpp"

/* Exit codes, as ksmppctl(8) and --help document them. */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,		/* usage error or invalid input */
	EXIT_NOT_LOADED = 2,	/* module not loaded, or not found */
	EXIT_REFUSED = 3,	/* the kernel refused */
	EXIT_ALREADY = 4,	/* module already loaded */
	EXIT_SYSTEM = 5,	/* permission, I/O or other system error */
};

static bool verbose;

/* "ENOENT" for ENOENT, for a kernel's refusal. */
static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "unknown error";
}

static const char usage_text[] =
"Usage: ksmppctl [-v] COMMAND [ARGS]\n"
"Load, configure, watch and unload ksmpp, I/O-hinted memory deduplication.\n"
"\n"
"Commands:\n"
"  load [--module PATH] [--force] [PARAM=VALUE...]\n"
"                          load ksmpp (libkmod; PATH or $KSMPP_MODULE: a .ko\n"
"                          file instead of the installed module)\n"
"  unload                  unmerge every page (run=2) with progress, then\n"
"                          remove the module\n"
"  status [--json | --prometheus]\n"
"                          summary of /proc/ksmpp; JSON; or Prometheus text\n"
"                          format (node_exporter's textfile collector)\n"
"  watch [-n SECONDS] [-c COUNT]\n"
"                          refresh the summary every SECONDS (default 2),\n"
"                          COUNT times (default: until interrupted)\n"
"  set [--force] KNOB VALUE\n"
"                          write /sys/kernel/mm/ksmpp/KNOB\n"
"  enable [--persist] [PARAM=VALUE...]\n"
"                          hand merging over from kernel KSM: stop ksmtuned\n"
"                          and KSM (its merged pages stay merged), load\n"
"                          ksmpp with KSM's knobs (PARAMs override) and run=1;\n"
"                          --persist: the same at boot (" MODPROBE_CONF ",\n"
"                          " MODULES_LOAD_CONF ", ksmtuned disabled)\n"
"  disable [--persist]     hand it back: unload ksmpp (unmerging), start KSM\n"
"                          with ksmpp's knobs; --persist: remove those files\n"
"\n"
"Options: -v, --verbose (libkmod's messages too); -h, --help; -V, --version\n"
"\n"
"Parameters and knobs (checked before anything reaches the kernel, unless\n"
"--force leaves it to the kernel alone, for a module newer than ksmppctl):\n"
"%s"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  usage error or invalid input (unknown command, parameter or value)\n"
"  2  ksmpp is not loaded, or its module file is not found\n"
"  3  the kernel refused (load failed, value refused, module in use)\n"
"  4  ksmpp is already loaded (load)\n"
"  5  system error (permission denied, I/O error, unreadable /proc/ksmpp)\n";

static void usage(FILE *out)
{
	char knobs[4096], choices[256];
	size_t i, used = 0;

	knobs[0] = '\0';
	for (i = 0; i < ksmpp_nknobs && used < sizeof(knobs); i++) {
		const struct ksmpp_knob *k = &ksmpp_knobs[i];
		int n;

		if (k->kind == KNOB_CHOICE)
			knob_choices(k, " or ", choices, sizeof(choices));
		n = k->kind == KNOB_CHOICE ?
			snprintf(knobs + used, sizeof(knobs) - used,
				 "  %-18s %s, default %s: %s\n", k->name,
				 choices, k->choices[k->def], k->desc) :
			snprintf(knobs + used, sizeof(knobs) - used,
				 "  %-18s %s%lu..%lu, default %lu: %s\n", k->name,
				 k->kind == KNOB_POWER_OF_2 ? "powers of two " :
				 k->kind == KNOB_ON_OFF ? "on/off, " : "",
				 k->min, k->max, k->def, k->desc);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	fprintf(out, usage_text, knobs);
}

static __printf(1, 2) void error(const char *fmt, ...)
{
	va_list ap;

	fputs("ksmppctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Read the small file @path into @buf; bytes read, or -errno. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	size_t used = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (used + 1 < size) {
		n = read(fd, buf + used, size - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (!n)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	close(fd);
	return (ssize_t)used;
}

/* Kernel KSM's run value, or -1 if the kernel has no KSM. */
static int kernel_ksm_run(void)
{
	char buf[16];

	if (read_file(KSM_RUN, buf, sizeof(buf)) <= 0)
		return -1;
	return atoi(buf);
}

/*
 * Read and parse /proc/ksmpp into @st. EXIT_OK, or an exit code after a
 * message (@quiet: no message when it is absent).
 */
static int read_status(struct ksmpp_status *st, bool quiet)
{
	static char text[16384];
	char err[128];
	ssize_t n = read_file(PROC_KSMPP, text, sizeof(text));

	if (n == -ENOENT) {
		if (!quiet)
			error("ksmpp is not loaded (no %s); load it with 'ksmppctl load'",
			      PROC_KSMPP);
		return EXIT_NOT_LOADED;
	}
	if (n < 0) {
		error("cannot read %s: %s", PROC_KSMPP, strerror((int)-n));
		return EXIT_SYSTEM;
	}
	if (ksmpp_status_parse(st, text, err, sizeof(err))) {
		error("cannot parse %s: %s", PROC_KSMPP, err);
		return EXIT_SYSTEM;
	}
	return EXIT_OK;
}

/*
 * The kernel log from a point on: ksmpp's lines logged after klog_mark(),
 * shown by klog_show(). /dev/kmsg where it can be read, else klogctl().
 */
struct klog {
	int fd;			/* /dev/kmsg, at the end of the log; or -1 */
	size_t seen;		/* klogctl: ksmpp lines in the log at the mark */
};

/* Call @fn on every ksmpp line klogctl() returns; how many there were. */
static size_t klogctl_lines(void (*fn)(const char *line))
{
	int size = klogctl(10, NULL, 0);	/* SYSLOG_ACTION_SIZE_BUFFER */
	char *buf, *line, *nl, text[1024];
	size_t count = 0;
	int n;

	if (size <= 0)
		return 0;
	buf = malloc((size_t)size + 1);
	if (!buf)
		return 0;
	n = klogctl(3, buf, size);		/* SYSLOG_ACTION_READ_ALL */
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	for (line = buf; *line; line = nl ? nl + 1 : line + strlen(line)) {
		nl = strchr(line, '\n');
		if (!kmsg_ksmpp_line(line, nl ? (size_t)(nl - line) : strlen(line),
				     text, sizeof(text)))
			continue;
		if (fn)
			fn(text);
		count++;
	}
	free(buf);
	return count;
}

static void klog_mark(struct klog *k)
{
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	k->seen = 0;
	if (k->fd >= 0 && lseek(k->fd, 0, SEEK_END) < 0) {
		close(k->fd);
		k->fd = -1;
	}
	if (k->fd < 0)
		k->seen = klogctl_lines(NULL);
}

static size_t klog_skip, klog_shown;

static void klog_print(const char *line)
{
	if (klog_skip) {
		klog_skip--;
		return;
	}
	fprintf(stderr, "ksmppctl:   kernel: %s\n", line);
	klog_shown++;
}

/* Show ksmpp's kernel log lines since klog_mark(); how many. */
static size_t klog_show(struct klog *k)
{
	char rec[2048], text[1024];
	ssize_t n;

	klog_shown = 0;
	if (k->fd < 0) {
		klog_skip = k->seen;
		klogctl_lines(klog_print);
		return klog_shown;
	}
	for (;;) {
		n = read(k->fd, rec, sizeof(rec));
		if (n < 0 && (errno == EINTR || errno == EPIPE))
			continue;	/* EPIPE: records overwritten meanwhile */
		if (n <= 0)
			break;
		if (kmsg_ksmpp_line(rec, (size_t)n, text, sizeof(text)))
			klog_print(text);
	}
	return klog_shown;
}

static void klog_close(struct klog *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

static void kmod_log(void *data, int priority, const char *file, int line,
		     const char *fn, const char *format, va_list args)
{
	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	if (!verbose)
		return;
	fputs("ksmppctl: libkmod: ", stderr);
	vfprintf(stderr, format, args);
}

/*
 * A libkmod context in @ctx and ksmpp's module by name (loaded or not, and
 * the installed module's file) in @mod. EXIT_OK, or an exit code after a
 * message; module_close() either way.
 */
static int module_open(struct kmod_ctx **ctx, struct kmod_module **mod)
{
	int ret;

	*mod = NULL;
	*ctx = kmod_new(NULL, NULL);
	if (!*ctx) {
		error("cannot initialise libkmod");
		return EXIT_SYSTEM;
	}
	kmod_set_log_fn(*ctx, kmod_log, NULL);
	if (verbose)
		kmod_set_log_priority(*ctx, LOG_INFO);
	ret = kmod_module_new_from_name(*ctx, MODULE_NAME, mod);
	if (ret < 0) {
		error("libkmod: %s", strerror(-ret));
		return EXIT_SYSTEM;
	}
	return EXIT_OK;
}

static void module_close(struct kmod_ctx *ctx, struct kmod_module *mod)
{
	kmod_module_unref(mod);
	kmod_unref(ctx);
}

/* The message and exit code for a refused load (-@err from libkmod). */
static int load_refused(int err, struct klog *k)
{
	if (err == EEXIST) {
		error("ksmpp is already loaded; change parameters with 'ksmppctl set'");
		return EXIT_ALREADY;
	}
	if ((err == EPERM || err == EACCES) && geteuid()) {
		error("cannot load ksmpp: %s (run as root)", strerror(err));
		return EXIT_SYSTEM;
	}
	error("the kernel refused to load ksmpp (%s: %s)", errno_name(err),
	      strerror(err));
	if (!klog_show(k)) {
		if (err == ENOEXEC)
			error("  the module file is not built for this kernel");
		else
			error("  (no ksmpp line in the kernel log: see dmesg)");
	}
	if (err == EKEYREJECTED || err == ENOKEY)
		error("  with Secure Boot, enroll DKMS's key once: mokutil --import /var/lib/dkms/mok.pub, then reboot");
	return EXIT_REFUSED;
}

static int load_module(const char *path, const char *options);

/* The module file $KSMPP_MODULE names, or NULL: the installed module. */
static const char *module_file(void)
{
	const char *path = getenv("KSMPP_MODULE");

	return path && *path ? path : NULL;
}

/*
 * Append "@name=@value" (or @name alone, @value NULL) to the parameter
 * string @options of @len bytes, space-separated. EXIT_OK, or EXIT_USAGE
 * after a message when it does not fit (@options unchanged).
 */
static int add_option(char *options, size_t len, const char *name, const char *value)
{
	size_t used = strlen(options);

	if (snprintf(options + used, len - used, "%s%s%s%s", used ? " " : "", name,
		     value ? "=" : "", value ? value : "") >= (int)(len - used)) {
		options[used] = '\0';
		error("too many parameters");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int cmd_load(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = module_file();
	char options[1024] = "", err[640];
	bool force = false;
	int c, i;

	while ((c = getopt_long(argc, argv, "+m:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			path = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	for (i = optind; i < argc; i++) {
		const struct ksmpp_knob *knob;
		unsigned long value;

		if (!force &&
		    knob_check_assignment(argv[i], &knob, &value, err, sizeof(err))) {
			error("%s", err);
			return EXIT_USAGE;
		}
		/* As given: the kernel parses values as knob_check() does. */
		if (add_option(options, sizeof(options), argv[i], NULL))
			return EXIT_USAGE;
	}
	return load_module(path, options);
}

/*
 * Load ksmpp (the installed module, or the file @path if not NULL) with
 * @options ("name=value ..."). EXIT_OK, or an exit code after a message.
 */
static int load_module(const char *path, const char *options)
{
	struct kmod_module *mod = NULL, *loaded = NULL;
	struct kmod_ctx *ctx;
	struct ksmpp_status st;
	struct klog k;
	int ret, status;

	status = module_open(&ctx, &loaded);
	if (status)
		goto out;
	if (kmod_module_get_initstate(loaded) >= 0) {
		status = load_refused(EEXIST, NULL);
		goto out;
	}
	if (path) {
		/* libkmod names it after the file; the kernel, after its .modinfo. */
		ret = kmod_module_new_from_path(ctx, path, &mod);
		if (ret < 0) {
			error("cannot use module file %s: %s", path, strerror(-ret));
			status = ret == -ENOENT ? EXIT_NOT_LOADED : EXIT_SYSTEM;
			goto out;
		}
	} else if (!kmod_module_get_path(loaded)) {
		struct utsname u;

		uname(&u);
		error("module ksmpp not found for kernel %s: install ksmpp-dkms (and this kernel's headers), or give --module PATH",
		      u.release);
		status = EXIT_NOT_LOADED;
		goto out;
	} else {
		mod = kmod_module_ref(loaded);
	}

	klog_mark(&k);
	if (path)
		ret = kmod_module_insert_module(mod, 0, options);
	else
		ret = kmod_module_probe_insert_module(mod, KMOD_PROBE_FAIL_ON_LOADED,
						      options, NULL, NULL, NULL);
	if (ret < 0)
		status = load_refused(-ret, &k);
	else if (ret > 0) {
		error("ksmpp is blacklisted (modprobe.d); not loaded");
		status = EXIT_REFUSED;
	}
	klog_close(&k);
	if (status == EXIT_OK) {
		if (read_status(&st, true) == EXIT_OK)
			printf("ksmpp %s loaded%s%s\n",
			       ksmpp_status_str(&st, "version", "?"),
			       *options ? " with " : "", options);
		else
			printf("ksmpp loaded\n");
	}
out:
	kmod_module_unref(mod);
	module_close(ctx, loaded);
	return status;
}

/* A write to a knob file, done by a thread while the caller shows progress. */
struct knob_write {
	const char *path;
	const char *value;
	int err;		/* 0 or errno, once done */
	int done;		/* under lock */
	pthread_mutex_t lock;
};

static int write_knob(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return errno;
	do {
		n = write(fd, value, strlen(value));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		err = errno;
	close(fd);
	return err;
}

static void *knob_write_thread(void *arg)
{
	struct knob_write *w = arg;
	int err = write_knob(w->path, w->value);

	pthread_mutex_lock(&w->lock);
	w->err = err;
	w->done = 1;
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static bool knob_write_done(struct knob_write *w)
{
	bool done;

	pthread_mutex_lock(&w->lock);
	done = w->done;
	pthread_mutex_unlock(&w->lock);
	return done;
}

/*
 * run=2: the write returns once every page is unmerged. Show pages_sharing
 * going down meanwhile. 0 or the write's errno.
 */
static int unmerge_with_progress(void)
{
	struct knob_write w = {
		.path = SYSFS_KSMPP "/run",
		.value = "2",
		.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	unsigned long long start = 0, left, shown = (unsigned long long)-1;
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	bool tty = isatty(STDOUT_FILENO);
	struct ksmpp_status st;
	pthread_t thread;
	int ticks = 0;

	if (read_status(&st, true) == EXIT_OK)
		start = ksmpp_status_num(&st, "pages_sharing");
	printf("unmerging: %llu pages sharing\n", start);
	fflush(stdout);
	if (pthread_create(&thread, NULL, knob_write_thread, &w))
		return write_knob(w.path, w.value);
	while (!knob_write_done(&w)) {
		nanosleep(&tick, NULL);
		/* Every 100 ms on a terminal, else each second with a change. */
		if (++ticks % (tty ? 1 : 10) || read_status(&st, true) != EXIT_OK)
			continue;
		left = ksmpp_status_num(&st, "pages_sharing");
		if (left == shown)
			continue;
		shown = left;
		if (tty)
			printf("\runmerging: %llu pages sharing left   ", left);
		else
			printf("unmerging: %llu pages sharing left\n", left);
		fflush(stdout);
	}
	pthread_join(thread, NULL);
	if (tty && shown != (unsigned long long)-1)
		putchar('\n');
	left = read_status(&st, true) == EXIT_OK ?
	       ksmpp_status_num(&st, "pages_sharing") : 0;
	if (!w.err)
		printf("unmerged: %llu pages sharing left (from %llu)\n", left, start);
	return w.err;
}

/* The message and exit code for a refused knob write (@err an errno). */
static int write_refused(const char *knob, const char *value, int err,
			 struct klog *k)
{
	struct stat sb;

	if (err == ENOENT && !stat(SYSFS_KSMPP, &sb)) {
		error("no knob %s in %s", knob, SYSFS_KSMPP);
		return EXIT_USAGE;
	}
	if (err == ENOENT) {
		error("ksmpp is not loaded (no %s/%s)", SYSFS_KSMPP, knob);
		return EXIT_NOT_LOADED;
	}
	if (err == EACCES || err == EPERM) {
		error("cannot write %s/%s: %s%s", SYSFS_KSMPP, knob, strerror(err),
		      geteuid() ? " (run as root)" : "");
		return EXIT_SYSTEM;
	}
	error("the kernel refused %s=%s (%s: %s)", knob, value, errno_name(err),
	      strerror(err));
	if (k)
		klog_show(k);
	return EXIT_REFUSED;
}

/* Unmerge everything, then remove ksmpp. EXIT_OK, or an exit code after a message. */
static int unload_module(void)
{
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	int ret, status;
	struct klog k;

	status = module_open(&ctx, &mod);
	if (status)
		goto out;
	if (kmod_module_get_initstate(mod) < 0) {
		error("ksmpp is not loaded");
		status = EXIT_NOT_LOADED;
		goto out;
	}
	klog_mark(&k);
	ret = unmerge_with_progress();
	if (ret)
		status = write_refused("run", "2", ret, &k);
	klog_close(&k);
	if (status)
		goto out;
	ret = kmod_module_remove_module(mod, 0);
	if (ret == -EBUSY) {
		error("ksmpp is in use, not removed");
		status = EXIT_REFUSED;
	} else if (ret == -EPERM || ret == -EACCES) {
		error("cannot remove ksmpp: %s%s", strerror(-ret),
		      geteuid() ? " (run as root)" : "");
		status = EXIT_SYSTEM;
	} else if (ret < 0 && ret != -ENOENT) {
		error("the kernel refused to remove ksmpp: %s", strerror(-ret));
		status = EXIT_REFUSED;
	} else {
		printf("ksmpp unloaded\n");
	}
out:
	module_close(ctx, mod);
	return status;
}

static int cmd_unload(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		error("unload takes no arguments");
		return EXIT_USAGE;
	}
	return unload_module();
}

enum format { FORMAT_HUMAN, FORMAT_JSON, FORMAT_PROMETHEUS };

static int show_status(enum format format, const struct ksmpp_status *st)
{
	struct ksmpp_summary sum;
	long page_size = sysconf(_SC_PAGESIZE);

	ksmpp_summarize(&sum, st, page_size > 0 ? (unsigned long)page_size : 4096,
			kernel_ksm_run());
	if (format == FORMAT_JSON)
		report_json(stdout, st, &sum);
	else if (format == FORMAT_PROMETHEUS)
		report_prometheus(stdout, st, &sum);
	else
		report_human(stdout, st, &sum);
	return fflush(stdout) ? EXIT_SYSTEM : EXIT_OK;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum format format = FORMAT_HUMAN;
	struct ksmpp_status st;
	int c, status;

	while ((c = getopt_long(argc, argv, "+jph", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			format = FORMAT_JSON;
			break;
		case 'p':
			format = FORMAT_PROMETHEUS;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		error("status: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	status = read_status(&st, false);
	return status ? status : show_status(format, &st);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'n' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ksmpp_status st[2];
	double interval = 2, then = 0, t;
	unsigned long count = 0, i;
	bool tty = isatty(STDOUT_FILENO);
	char *end, stamp[64];
	int c, status;

	while ((c = getopt_long(argc, argv, "+n:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			interval = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(interval >= 0.1) ||
			    interval > 86400) {
				error("invalid interval '%s': seconds from 0.1 to 86400",
				      optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || *optarg == '-' || !count) {
				error("invalid count '%s': a number of refreshes from 1", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		error("watch: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	for (i = 0; !count || i < count; i++) {
		struct ksmpp_status *cur = &st[i % 2], *prev = &st[(i + 1) % 2];
		struct timespec ts;
		time_t wall = time(NULL);
		struct tm *tm;

		if (i) {
			ts.tv_sec = (time_t)interval;
			ts.tv_nsec = (long)((interval - (double)ts.tv_sec) * 1e9);
			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
		}
		status = read_status(cur, false);
		if (status)
			return status;
		t = now();
		if (tty)
			fputs("\033[H\033[2J", stdout);
		tm = localtime(&wall);
		if (!tm || !strftime(stamp, sizeof(stamp), "%F %T", tm))
			stamp[0] = '\0';
		printf("Every %.1fs: ksmppctl status    %s\n\n", interval, stamp);
		status = show_status(FORMAT_HUMAN, cur);
		if (i)
			report_rates(stdout, prev, cur, t - then);
		then = t;
		if (!tty && (!count || i + 1 < count))
			putchar('\n');
		if (status || fflush(stdout))
			return EXIT_SYSTEM;
	}
	return EXIT_OK;
}

static int cmd_set(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char path[256], err[640], now_value[32], names[512];
	const char *name, *text;
	unsigned long value = 0;
	bool force = false;
	struct klog k;
	int c, ret, status = EXIT_OK;
	struct stat sb;

	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		error("usage: ksmppctl set [--force] KNOB VALUE");
		return EXIT_USAGE;
	}
	name = argv[optind];
	text = argv[optind + 1];
	if (!force) {
		const struct ksmpp_knob *knob = knob_find(name);

		if (!knob) {
			knob_names(names, sizeof(names));
			error("unknown knob '%s': known are %s", name, names);
			return EXIT_USAGE;
		}
		if (knob_check(knob, text, &value, err, sizeof(err))) {
			error("%s", err);
			return EXIT_USAGE;
		}
	} else if (!*name || strchr(name, '/') || !strcmp(name, ".") ||
		   !strcmp(name, "..")) {
		error("invalid knob name '%s'", name);
		return EXIT_USAGE;
	}
	if (stat(SYSFS_KSMPP, &sb)) {
		error("ksmpp is not loaded (no %s); load it with 'ksmppctl load'",
		      SYSFS_KSMPP);
		return EXIT_NOT_LOADED;
	}
	snprintf(path, sizeof(path), "%s/%s", SYSFS_KSMPP, name);
	klog_mark(&k);
	if (!force && !strcmp(name, "run") && value == 2) {
		ret = unmerge_with_progress();
	} else {
		/* The text as written: the kernel parses it as knob_check() did. */
		ret = write_knob(path, text);
	}
	if (ret)
		status = write_refused(name, text, ret, &k);
	klog_close(&k);
	if (status)
		return status;
	if (read_file(path, now_value, sizeof(now_value)) > 0)
		now_value[strcspn(now_value, "\n")] = '\0';
	else
		snprintf(now_value, sizeof(now_value), "%s", text);
	printf("%s = %s\n", name, now_value);
	return EXIT_OK;
}

/* ksmtuned, if systemd runs it: it would start kernel KSM again. */
static void ksmtuned_stop(bool persist)
{
	if (access("/run/systemd/system", F_OK) ||
	    system("systemctl --quiet is-active ksmtuned.service 2>/dev/null"))
		return;
	printf("stopping ksmtuned%s\n", persist ? " (and disabling it)" : "");
	if (system(persist ? "systemctl --quiet disable --now ksmtuned.service" :
			     "systemctl --quiet stop ksmtuned.service"))
		error("could not stop ksmtuned: it may start kernel KSM again");
}

/* Whether a PARAM=VALUE of @argv names @name. */
static bool given(const char *name, int argc, char **argv)
{
	size_t len = strlen(name);
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], name, len) && argv[i][len] == '=')
			return true;
	return false;
}

/*
 * The knobs kernel KSM and ksmpp share (ksmpp's but run, where KSM has the
 * file), as "name=value ..." in @out, with their values read from the
 * directory @from (SYSFS_KSM or SYSFS_KSMPP); none that @argv sets, and no
 * pages_to_scan while the advisor sets it. EXIT_OK, or an exit code after
 * a message.
 */
static int shared_knobs(const char *from, int argc, char **argv, char *out, size_t len)
{
	char path[256], text[64], value_text[32];
	unsigned long values[32];
	bool have[32] = { false }, advisor = false;
	size_t i;

	*out = '\0';
	for (i = 0; i < ksmpp_nknobs && i < ARRAY_SIZE(values); i++) {
		const struct ksmpp_knob *k = &ksmpp_knobs[i];

		snprintf(path, sizeof(path), "%s/%s", SYSFS_KSM, k->name);
		if (!strcmp(k->name, "run") || access(path, F_OK))
			continue;
		snprintf(path, sizeof(path), "%s/%s", from, k->name);
		if (read_file(path, text, sizeof(text)) <= 0 ||
		    knob_from_file(k, text, &values[i])) {
			error("cannot read %s", path);
			return EXIT_SYSTEM;
		}
		have[i] = true;
		advisor |= !strcmp(k->name, "advisor_mode") && values[i];
	}
	for (i = 0; i < ksmpp_nknobs && i < ARRAY_SIZE(values); i++) {
		const struct ksmpp_knob *k = &ksmpp_knobs[i];

		if (!have[i] || given(k->name, argc, argv) ||
		    (advisor && !strcmp(k->name, "pages_to_scan")))
			continue;
		knob_format(k, values[i], value_text, sizeof(value_text));
		if (add_option(out, len, k->name, value_text))
			return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Write @text into the file @path, or remove it (@text NULL). 0 or errno. */
static int write_config(const char *path, const char *text)
{
	FILE *f;

	if (!text)
		return unlink(path) && errno != ENOENT ? errno : 0;
	f = fopen(path, "w");
	if (!f)
		return errno;
	fputs(text, f);
	return fclose(f) ? errno : 0;
}

/*
 * The boot-time configuration: ksmpp with @options, or none (NULL). An
 * error names the file it failed on.
 */
static int persist(const char *options)
{
	const char *params = NULL, *load = NULL, *path = MODPROBE_CONF;
	char text[1200];
	int err;

	if (options) {
		snprintf(text, sizeof(text),
			 "# Written by ksmppctl enable --persist: ksmpp's parameters.\noptions ksmpp %s\n",
			 options);
		params = text;
		load = "# Written by ksmppctl enable --persist.\nksmpp\n";
	}
	err = write_config(path, params);
	if (!err) {
		path = MODULES_LOAD_CONF;
		err = write_config(path, load);
	}
	if (err) {
		error("cannot %s %s: %s", options ? "write" : "remove", path, strerror(err));
		return EXIT_SYSTEM;
	}
	printf("%s %s and %s\n", options ? "wrote" : "removed", MODPROBE_CONF,
	       MODULES_LOAD_CONF);
	return EXIT_OK;
}

/*
 * --persist, alone or with PARAM=VALUEs checked: the index of the first
 * PARAM, or -1 with *exit_code what to exit with (EXIT_OK after --help).
 */
static int handover_options(int argc, char **argv, bool *persist_too, bool params,
			    int *exit_code)
{
	static const struct option opts[] = {
		{ "persist", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ksmpp_knob *knob;
	unsigned long value;
	char err[640];
	int c, i;

	*persist_too = false;
	*exit_code = EXIT_USAGE;
	while ((c = getopt_long(argc, argv, "+ph", opts, NULL)) != -1) {
		if (c == 'p') {
			*persist_too = true;
			continue;
		}
		if (c == 'h') {
			usage(stdout);
			*exit_code = EXIT_OK;
		}
		return -1;
	}
	if (!params && optind < argc) {
		error("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	for (i = optind; i < argc; i++) {
		if (knob_check_assignment(argv[i], &knob, &value, err, sizeof(err))) {
			error("%s", err);
			return -1;
		}
	}
	*exit_code = EXIT_OK;
	return optind;
}

static int cmd_enable(int argc, char **argv)
{
	char options[1024] = "";
	int first, i, ksm_run, status = EXIT_OK;
	bool persist_too;
	struct stat sb;

	first = handover_options(argc, argv, &persist_too, true, &status);
	if (first < 0)
		return status;
	argc -= first;
	argv += first;
	if (!stat(SYSFS_KSMPP, &sb)) {
		error("ksmpp is already loaded");
		return EXIT_ALREADY;
	}
	ksm_run = kernel_ksm_run();
	if (ksm_run >= 0)
		status = shared_knobs(SYSFS_KSM, argc, argv, options, sizeof(options));
	if (status)
		return status;
	for (i = 0; i < argc && !status; i++)
		status = add_option(options, sizeof(options), argv[i], NULL);
	if (!status && !given("run", argc, argv))
		status = add_option(options, sizeof(options), "run", "1");
	if (status)
		return status;
	ksmtuned_stop(persist_too);
	if (ksm_run == 1) {
		printf("stopping kernel KSM (the pages it merged stay merged)\n");
		status = write_knob(KSM_RUN, "0");
		if (status) {
			error("cannot stop kernel KSM: %s", strerror(status));
			return EXIT_SYSTEM;
		}
	}
	status = load_module(module_file(), options);
	if (status) {
		if (ksm_run == 1 && !write_knob(KSM_RUN, "1"))
			printf("kernel KSM runs again\n");
		return status;
	}
	return persist_too ? persist(options) : EXIT_OK;
}

static int cmd_disable(int argc, char **argv)
{
	char options[1024], path[256], *name, *value;
	int first, status, err;
	bool persist_too;
	struct stat sb;

	first = handover_options(argc, argv, &persist_too, false, &status);
	if (first < 0)
		return status;
	if (stat(SYSFS_KSMPP, &sb)) {
		error("ksmpp is not loaded");
		return persist_too ? persist(NULL) : EXIT_NOT_LOADED;
	}
	if (kernel_ksm_run() < 0) {
		error("this kernel has no KSM to hand merging back to: use 'ksmppctl unload'");
		return EXIT_REFUSED;
	}
	status = shared_knobs(SYSFS_KSMPP, 0, NULL, options, sizeof(options));
	if (!status)
		status = unload_module();
	if (status)
		return status;
	/* KSM refuses some changes (merge_across_nodes) while it has pages. */
	for (name = strtok(options, " "); name; name = strtok(NULL, " ")) {
		value = strchr(name, '=');
		*value++ = '\0';
		snprintf(path, sizeof(path), "%s/%s", SYSFS_KSM, name);
		err = write_knob(path, value);
		if (err)
			error("kernel KSM refused %s=%s (%s): it keeps its own", name, value,
			      strerror(err));
	}
	err = write_knob(KSM_RUN, "1");
	if (err) {
		error("cannot start kernel KSM: %s", strerror(err));
		return EXIT_SYSTEM;
	}
	printf("kernel KSM runs with ksmpp's knobs\n");
	return persist_too ? persist(NULL) : EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "load", cmd_load },
		{ "unload", cmd_unload },
		{ "status", cmd_status },
		{ "watch", cmd_watch },
		{ "set", cmd_set },
		{ "enable", cmd_enable },
		{ "disable", cmd_disable },
	};
	static char name[64];
	size_t i;
	int c;

	if (argc < 1)
		return EXIT_USAGE;
	argv[0] = "ksmppctl";
	while ((c = getopt_long(argc, argv, "+vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("ksmppctl %s\n", KSMPPCTL_VERSION);
			return EXIT_OK;
		default:
			error("see ksmppctl --help");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[optind], cmds[i].name))
			continue;
		argc -= optind;
		argv += optind;
		/* getopt_long starts again, on the command's; its messages name it. */
		optind = 0;
		snprintf(name, sizeof(name), "ksmppctl %s", cmds[i].name);
		argv[0] = name;
		return cmds[i].fn(argc, argv);
	}
	error("unknown command '%s' (see ksmppctl --help)", argv[optind]);
	return EXIT_USAGE;
}
