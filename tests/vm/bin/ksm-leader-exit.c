// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm-leader-exit: a process whose main thread has exited, its memory kept
 * by another thread, is found and merged like any other. Two such
 * processes fill identical MADV_MERGEABLE pages; once the engine runs,
 * their pages share frames (read through the live thread's
 * /proc/TID/pagemap: the exited main thread has no mm) and still hold what
 * they held. ksmpp finds processes by one thread each: the first that
 * still has an mm.
 * Starts the engine (engine_start of /tests/lib.sh), prints one "ok" or
 * "FAIL" line, stops the engine and exits 0 or 1.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES		64
#define PROCESSES	2

/* What the live thread of a process tells the controller. */
struct report {
	pid_t tid;
	uintptr_t region;
};

struct child {
	pid_t pid;
	int ask, answer;	/* the controller's ends of the two pipes */
	struct report report;
};

static struct {
	int ask, answer;	/* the process's ends */
	unsigned char *region;
} me;

/* The live thread: reports, then checks its pages whenever asked. */
static void *live_thread(void *arg)
{
	struct report report = { gettid(), (uintptr_t)me.region };
	char c, intact;
	size_t i;

	(void)arg;
	if (write(me.answer, &report, sizeof(report)) != sizeof(report))
		exit(2);
	while (read(me.ask, &c, 1) == 1) {
		intact = 1;
		for (i = 0; i < PAGES; i++)
			if (!page_matches(me.region + i * PAGE_SIZE, SHARED_SET, i))
				intact = 0;
		if (write(me.answer, &intact, 1) != 1)
			exit(2);
	}
	exit(0);	/* the controller closed its end */
}

/* A child: its pages filled, a live thread started, its main thread gone. */
static void child_main(void)
{
	pthread_t thread;
	size_t i;

	me.region = mmap(NULL, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (me.region == MAP_FAILED || madvise(me.region, PAGES * PAGE_SIZE, MADV_MERGEABLE))
		die("mapping the region");
	for (i = 0; i < PAGES; i++)
		fill_page(me.region + i * PAGE_SIZE, SHARED_SET, i);
	if (pthread_create(&thread, NULL, live_thread, NULL))
		die("pthread_create");
	pthread_exit(NULL);
}

static struct child children[PROCESSES];

/* Every child's pages present, on the same frames as the first child's. */
static bool merged(void *arg)
{
	uint64_t first[PAGES], other[PAGES];
	unsigned int c;
	size_t i;

	(void)arg;
	pagemap_read(children[0].report.tid, children[0].report.region, PAGES, first);
	for (i = 0; i < PAGES; i++)
		if (!pm_pfn(first[i]))
			return false;
	for (c = 1; c < PROCESSES; c++) {
		pagemap_read(children[c].report.tid, children[c].report.region, PAGES, other);
		for (i = 0; i < PAGES; i++)
			if (pm_pfn(other[i]) != pm_pfn(first[i]))
				return false;
	}
	return true;
}

int main(void)
{
	int ask[2], answer[2];
	unsigned int c;
	char intact;

	prog = "ksm-leader-exit";
	for (c = 0; c < PROCESSES; c++) {
		if (pipe(ask) || pipe(answer))
			die("pipe");
		children[c].pid = fork_or_die();
		if (!children[c].pid) {
			/* Only its own ends: a closed pipe must end its reader. */
			while (c--) {
				close(children[c].ask);
				close(children[c].answer);
			}
			close(ask[1]);
			close(answer[0]);
			me.ask = ask[0];
			me.answer = answer[1];
			child_main();
		}
		close(ask[0]);
		close(answer[1]);
		children[c].ask = ask[1];
		children[c].answer = answer[0];
		if (read(answer[0], &children[c].report, sizeof(children[c].report)) !=
		    sizeof(children[c].report))
			die("child %u did not report", c);
	}
	stop_engine_at_exit();
	if (engine("start"))
		die("engine_start failed");
	expect(wait_until(merged, NULL, MERGE_TIMEOUT),
	       "the processes' pages not merged within %u s", MERGE_TIMEOUT);
	for (c = 0; c < PROCESSES; c++) {
		intact = 0;
		if (write(children[c].ask, "?", 1) != 1 ||
		    read(children[c].answer, &intact, 1) != 1)
			die("child %u did not answer", c);
		expect(intact, "child %u: its pages changed", c);
		close(children[c].ask);
		waitpid(children[c].pid, NULL, 0);
	}
	finish("a process whose main thread exited is merged");
}
