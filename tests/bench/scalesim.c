// SPDX-License-Identifier: GPL-2.0-only
/*
 * scalesim: a host of many processes for the scale benchmark (make bench
 * BENCH_RUNS=scale, tests/bench/bench-scale.sh).
 *
 *   scalesim -n PROCS -m MIB [-d PERCENT] [-T THREADS]
 *
 * Starts PROCS processes that share MIB MiB of MADV_MERGEABLE anonymous
 * memory among them, each its part. PERCENT of every process's pages (50
 * by default) hold one of 256 contents that all processes have in common,
 * the rest contents of their own. One more process, which does not opt in,
 * runs THREADS threads that only sleep: the other tasks of a busy host.
 * Prints "ready PAGES" once every page is written (PAGES: the mergeable
 * pages in all), then waits; SIGTERM or SIGINT ends it and all its
 * processes. Exits non-zero if any of them could not be started.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE		4096UL
#define COMMON_CONTENTS	256
#define THREAD_STACK	(64UL << 10)

static void die(const char *what)
{
	fprintf(stderr, "scalesim: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* Page @i of process @proc: common content, or content of its own. */
static void fill(char *page, unsigned long proc, unsigned long i, unsigned int percent)
{
	uint64_t *words = (uint64_t *)page, seed;
	size_t w;

	if (i % 100 < percent)
		seed = 0x5ca1ab1eULL + i % COMMON_CONTENTS;
	else
		seed = (proc + 1) << 32 | i;
	for (w = 0; w < PAGE / sizeof(*words); w++)
		words[w] = seed * 0x9e3779b97f4a7c15ULL + w;
}

/* A process of the pool: its pages written, then it sleeps until killed. */
static void member(unsigned long proc, unsigned long pages, unsigned int percent, int ready)
{
	unsigned long i;
	char *mem;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	if (madvise(mem, pages * PAGE, MADV_MERGEABLE))
		die("madvise");
	for (i = 0; i < pages; i++)
		fill(mem + i * PAGE, proc, i, percent);
	if (write(ready, "", 1) != 1)
		die("write");
	for (;;)
		pause();
}

static void *sleeper(void *unused)
{
	(void)unused;
	for (;;)
		pause();
	return NULL;
}

/* The process that does not opt in: @threads threads that only sleep. */
static void sleepers(unsigned long threads, int ready)
{
	pthread_attr_t attr;
	pthread_t t;
	unsigned long i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (i = 0; i < threads; i++) {
		errno = pthread_create(&t, &attr, sleeper, NULL);
		if (errno)
			die("pthread_create");
	}
	if (write(ready, "", 1) != 1)
		die("write");
	for (;;)
		pause();
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	unsigned long procs = 0, mib = 0, threads = 0, pages, p, started = 0, i;
	unsigned int percent = 50;
	int opt, pipefd[2];
	ssize_t got = 0;
	pid_t *pids;
	char c;

	while ((opt = getopt(argc, argv, "n:m:d:T:")) != -1) {
		if (opt == 'n')
			procs = strtoul(optarg, NULL, 0);
		else if (opt == 'm')
			mib = strtoul(optarg, NULL, 0);
		else if (opt == 'd')
			percent = (unsigned int)strtoul(optarg, NULL, 0);
		else if (opt == 'T')
			threads = strtoul(optarg, NULL, 0);
		else
			return 2;
	}
	if (!procs || !mib || percent > 100 || optind != argc) {
		fprintf(stderr, "usage: scalesim -n PROCS -m MIB [-d PERCENT] [-T THREADS]\n");
		return 2;
	}
	pages = mib * (1UL << 20) / PAGE / procs;
	if (!pages) {
		fprintf(stderr, "scalesim: %lu MiB is less than a page per process\n", mib);
		return 2;
	}
	pids = calloc(procs + 1, sizeof(*pids));
	if (!pids || pipe(pipefd))
		die("setup");
	for (p = 0; p <= procs; p++) {
		if (p == procs && !threads)
			break;
		pids[p] = fork();
		if (pids[p] < 0)
			die("fork");
		if (!pids[p]) {
			close(pipefd[0]);
			if (p == procs)
				sleepers(threads, pipefd[1]);
			member(p, pages, percent, pipefd[1]);
		}
		started++;
	}
	close(pipefd[1]);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (i = 0; i < started && !stop; i++) {
		do
			got = read(pipefd[0], &c, 1);
		while (got < 0 && errno == EINTR && !stop);
		if (got != 1)
			break;
	}
	if (i == started) {
		printf("ready %lu\n", pages * procs);
		fflush(stdout);
		while (!stop)
			pause();
	} else {
		fprintf(stderr, "scalesim: %lu of %lu processes started (%s)\n", i, started,
			got < 0 ? strerror(errno) : "one exited");
	}
	for (p = 0; p < started; p++)
		kill(pids[p], SIGKILL);
	while (wait(NULL) > 0)
		;
	return i == started ? 0 : 1;
}
