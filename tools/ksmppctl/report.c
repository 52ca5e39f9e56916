// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmppctl: the summary of /proc/ksmpp and its human, JSON and Prometheus
 * forms. Pure functions of the parsed file, for the unit tests.
 */
#include <stdio.h>
#include <string.h>

#include "ksmppctl.h"
#include "report.h"

enum metric_type { METRIC_UNTYPED, METRIC_GAUGE, METRIC_COUNTER };

/* What is known of the numeric fields of /proc/ksmpp. */
struct field_info {
	const char *key;
	enum metric_type type;
	const char *help;
};

static const struct field_info field_infos[] = {
	{ "run", METRIC_GAUGE, "The run knob: 0 stop, 1 merge, 2 unmerge." },
	{ "pages_to_scan", METRIC_GAUGE, "Pages the scanner visits per wake-up." },
	{ "sleep_millisecs", METRIC_GAUGE, "Milliseconds the scanner sleeps between batches." },
	{ "max_page_sharing", METRIC_GAUGE, "Most mappings of one merged page." },
	{ "hint_buffer_size", METRIC_GAUGE, "Entries of the I/O hint ring." },
	{ "hint_scan_percent", METRIC_GAUGE, "Most of each batch, in percent, that hinted pages may take." },
	{ "pages_shared", METRIC_GAUGE, "Merged pages in use." },
	{ "pages_sharing", METRIC_GAUGE, "Further mappings of merged pages: pages saved." },
	{ "pages_unshared", METRIC_GAUGE, "Unique pages checked for merging." },
	{ "pages_volatile", METRIC_GAUGE, "Pages that changed too fast to be merged, in the last pass." },
	{ "full_scans", METRIC_COUNTER, "Completed passes over all mergeable memory." },
	{ "pages_scanned", METRIC_COUNTER, "Pages visited by the scanner." },
	{ "pages_scanned_hint", METRIC_COUNTER, "Pages visited because an I/O hint named them." },
	{ "merges", METRIC_COUNTER, "Mappings merged." },
	{ "merges_hint", METRIC_COUNTER, "Merges made on pages visited through hints." },
	{ "cow_breaks", METRIC_COUNTER, "Merged mappings found replaced by a copy on write." },
	{ "unmerges_scope", METRIC_COUNTER, "Merged mappings unmerged for being outside their page's merge_scope." },
	{ "stale_reclaimed", METRIC_COUNTER, "Index entries of gone pages freed." },
	{ "processes", METRIC_GAUGE, "Processes registered for merging." },
	{ "process_walks", METRIC_COUNTER, "Walks of the host's processes to find new opt-ins." },
	{ "lru_drains_cpu", METRIC_COUNTER, "One CPU's LRU batches drained for hinted pages." },
	{ "lru_drains_all", METRIC_COUNTER, "Every CPU's LRU batches drained for a hinted page." },
	{ "metadata_bytes", METRIC_GAUGE, "Memory in ksmpp's own structures, in bytes." },
	{ "index_buckets", METRIC_GAUGE, "Buckets of ksmpp's hash indexes (8 bytes each, in metadata_bytes)." },
	{ "hints_read", METRIC_COUNTER, "Hints from buffered reads." },
	{ "hints_direct_read", METRIC_COUNTER, "Hints from direct I/O reads." },
	{ "hints_write", METRIC_COUNTER, "Hints from buffered writes." },
	{ "hints_direct_write", METRIC_COUNTER, "Hints from direct I/O writes." },
	{ "hint_bytes", METRIC_COUNTER, "Bytes of user memory named by hints." },
	{ "hints_repeated", METRIC_COUNTER, "Hints equal to their CPU's last one, still unread: not pushed again." },
	{ "hints_pending", METRIC_GAUGE, "Hints in the ring, not yet consumed." },
	{ "hints_dropped", METRIC_COUNTER, "Hints overwritten before ksmppd reached them." },
	{ "hints_consumed", METRIC_COUNTER, "Hints taken by the scanner." },
	{ "hints_invalid", METRIC_COUNTER, "Hints of processes that had exited." },
	{ "hints_coalesced", METRIC_COUNTER, "Hints repeating the previous one." },
	{ "hint_pages_skipped", METRIC_COUNTER, "Hinted pages that were not mergeable." },
	{ "hints_missed", METRIC_COUNTER, "I/O calls a kprobe hook missed (it fired inside another kprobe)." },
};

static const struct field_info *field_info(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(field_infos); i++)
		if (!strcmp(field_infos[i].key, key))
			return &field_infos[i];
	return NULL;
}

static const char * const hint_sources[] = {
	"hints_read", "hints_direct_read", "hints_write", "hints_direct_write",
};

/* The scanner's states, as /proc/ksmpp names them. */
static const char * const states[] = {
	"stopped", "running", "blocked", "unmerging",
};

#define NUM(key) ksmpp_status_num(st, key)

void ksmpp_summarize(struct ksmpp_summary *sum, const struct ksmpp_status *st,
		     unsigned long page_size, int ksm_run)
{
	unsigned long long shared = NUM("pages_shared");
	unsigned long long hint_scanned = NUM("pages_scanned_hint");
	size_t i;

	memset(sum, 0, sizeof(*sum));
	sum->page_size = page_size;
	sum->saved_bytes = NUM("pages_sharing") * page_size;
	sum->general_profit = (long long)sum->saved_bytes -
			      (long long)NUM("metadata_bytes");
	sum->has_sharing_ratio = shared > 0;
	if (shared)
		sum->sharing_ratio = (double)NUM("pages_sharing") / (double)shared;
	sum->has_hint_hit_rate = hint_scanned > 0;
	if (hint_scanned)
		sum->hint_hit_rate = (double)NUM("merges_hint") / (double)hint_scanned;
	for (i = 0; i < ARRAY_SIZE(hint_sources); i++)
		sum->hints_generated += NUM(hint_sources[i]);
	sum->ksm_run = ksm_run;
	sum->ksm_blocks = ksm_run == 1;
}

void format_bytes(char *buf, size_t len, long long bytes)
{
	static const char * const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned long long abs = bytes < 0 ? -(unsigned long long)bytes :
				 (unsigned long long)bytes;
	double v = (double)abs;
	size_t u = 0;

	if (abs < 1024) {
		snprintf(buf, len, "%lld B", bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%s%.1f %s", bytes < 0 ? "-" : "", v, units[u]);
}

/* "32.00" or "-" when there is no ratio. */
static void format_ratio(char *buf, size_t len, bool has, double v, bool percent)
{
	if (!has)
		snprintf(buf, len, "-");
	else if (percent)
		snprintf(buf, len, "%.2f%%", v * 100);
	else
		snprintf(buf, len, "%.2f", v);
}

/* Each hooked function and the mechanism it got (hooked_NAME fields). */
static void report_hooks(FILE *out, const struct ksmpp_status *st)
{
	static const char prefix[] = "hooked_";
	const char *sep = "";
	size_t i;

	fprintf(out, "hooks:           ");
	for (i = 0; i < st->nfields; i++) {
		const struct ksmpp_field *f = &st->fields[i];

		if (strncmp(f->key, prefix, sizeof(prefix) - 1))
			continue;
		fprintf(out, "%s%s %s", sep, f->key + sizeof(prefix) - 1, f->value);
		sep = ", ";
	}
	fprintf(out, "%s\n", *sep ? "" : "none listed");
}

void report_human(FILE *out, const struct ksmpp_status *st,
		  const struct ksmpp_summary *sum)
{
	const char *state = ksmpp_status_str(st, "state", "unknown");
	char saved[32], profit[32], meta[32], hinted[32], ratio[16], rate[16];

	format_bytes(saved, sizeof(saved), (long long)sum->saved_bytes);
	format_bytes(profit, sizeof(profit), sum->general_profit);
	format_bytes(meta, sizeof(meta), (long long)NUM("metadata_bytes"));
	format_bytes(hinted, sizeof(hinted), (long long)NUM("hint_bytes"));
	format_ratio(ratio, sizeof(ratio), sum->has_sharing_ratio, sum->sharing_ratio, false);
	format_ratio(rate, sizeof(rate), sum->has_hint_hit_rate, sum->hint_hit_rate, true);

	fprintf(out, "ksmpp %s on kernel %s\n", ksmpp_status_str(st, "version", "?"),
		ksmpp_status_str(st, "kernel", "?"));
	fprintf(out, "state:           %s (run %llu; %llu pages every %llu ms)\n",
		state, NUM("run"), NUM("pages_to_scan"), NUM("sleep_millisecs"));
	if (sum->ksm_run < 0)
		fprintf(out, "kernel KSM:      unknown (no /sys/kernel/mm/ksm/run)\n");
	else if (sum->ksm_blocks)
		fprintf(out, "kernel KSM:      running (/sys/kernel/mm/ksm/run is 1): ksmpp does not merge while it runs\n");
	else
		fprintf(out, "kernel KSM:      not running (/sys/kernel/mm/ksm/run is %d)\n",
			sum->ksm_run);
	fprintf(out, "memory saved:    %s (%llu pages sharing, %lu bytes each)\n",
		saved, NUM("pages_sharing"), sum->page_size);
	fprintf(out, "general profit:  %s (saved memory less %s of metadata)\n",
		profit, meta);
	fprintf(out, "sharing ratio:   %s (%llu pages sharing / %llu pages shared)\n",
		ratio, NUM("pages_sharing"), NUM("pages_shared"));
	fprintf(out, "unshared:        %llu pages, %llu volatile\n",
		NUM("pages_unshared"), NUM("pages_volatile"));
	fprintf(out, "scanned:         %llu pages, %llu full scans, %llu processes\n",
		NUM("pages_scanned"), NUM("full_scans"), NUM("processes"));
	fprintf(out, "merges:          %llu (%llu COW breaks, %llu stale reclaimed)\n",
		NUM("merges"), NUM("cow_breaks"), NUM("stale_reclaimed"));
	fprintf(out, "hint hit rate:   %s (%llu merges / %llu pages scanned from hints)\n",
		rate, NUM("merges_hint"), NUM("pages_scanned_hint"));
	fprintf(out, "hints:           %llu generated, %s (read %llu, direct read %llu, write %llu, direct write %llu)\n",
		sum->hints_generated, hinted, NUM("hints_read"),
		NUM("hints_direct_read"), NUM("hints_write"), NUM("hints_direct_write"));
	fprintf(out, "hint ring:       %llu entries, at most %llu%% of a batch; %llu pending, %llu consumed, %llu dropped, %llu repeats not pushed, %llu missed\n",
		NUM("hint_buffer_size"), NUM("hint_scan_percent"), NUM("hints_pending"),
		NUM("hints_consumed"), NUM("hints_dropped"), NUM("hints_repeated"),
		NUM("hints_missed"));
	fprintf(out, "hints unused:    %llu invalid, %llu coalesced, %llu pages skipped\n",
		NUM("hints_invalid"), NUM("hints_coalesced"), NUM("hint_pages_skipped"));
	report_hooks(out, st);
}

/* cur - prev of @key, or -1 if it went backwards or is missing. */
static double delta(const struct ksmpp_status *prev,
		    const struct ksmpp_status *cur, const char *key)
{
	unsigned long long a = ksmpp_status_num(prev, key);
	unsigned long long b = ksmpp_status_num(cur, key);

	if (!ksmpp_status_has_num(prev, key) || !ksmpp_status_has_num(cur, key) ||
	    b < a)
		return -1;
	return (double)(b - a);
}

void report_rates(FILE *out, const struct ksmpp_status *prev,
		  const struct ksmpp_status *cur, double seconds)
{
	double scanned = delta(prev, cur, "pages_scanned");
	double hinted = delta(prev, cur, "pages_scanned_hint");
	double merges = delta(prev, cur, "merges");
	double hints = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hint_sources); i++) {
		double d = delta(prev, cur, hint_sources[i]);

		if (d < 0)
			return;
		hints += d;
	}
	if (seconds <= 0 || scanned < 0 || hinted < 0 || merges < 0)
		return;
	fprintf(out, "rates:           %.1f pages/s scanned (%.1f from hints), %.1f merges/s, %.1f hints/s\n",
		scanned / seconds, hinted / seconds, merges / seconds, hints / seconds);
}

/* @s as the body of a JSON string. */
static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* The JSON key @key, unless /proc/ksmpp already has a field of that name. */
static bool json_key(FILE *out, const struct ksmpp_status *st, const char *key)
{
	if (ksmpp_status_field(st, key))
		return false;
	fputs(",\n  ", out);
	json_string(out, key);
	fputs(": ", out);
	return true;
}

void report_json(FILE *out, const struct ksmpp_status *st,
		 const struct ksmpp_summary *sum)
{
	size_t i;

	fputs("{", out);
	for (i = 0; i < st->nfields; i++) {
		const struct ksmpp_field *f = &st->fields[i];

		fputs(i ? ",\n  " : "\n  ", out);
		json_string(out, f->key);
		fputs(": ", out);
		if (f->numeric)
			fprintf(out, "%llu", f->num);
		else
			json_string(out, f->value);
	}
	if (json_key(out, st, "page_size"))
		fprintf(out, "%lu", sum->page_size);
	if (json_key(out, st, "memory_saved_bytes"))
		fprintf(out, "%llu", sum->saved_bytes);
	if (json_key(out, st, "general_profit"))
		fprintf(out, "%lld", sum->general_profit);
	if (json_key(out, st, "sharing_ratio")) {
		if (sum->has_sharing_ratio)
			fprintf(out, "%.4f", sum->sharing_ratio);
		else
			fputs("null", out);
	}
	if (json_key(out, st, "hint_hit_rate")) {
		if (sum->has_hint_hit_rate)
			fprintf(out, "%.4f", sum->hint_hit_rate);
		else
			fputs("null", out);
	}
	if (json_key(out, st, "hints_generated"))
		fprintf(out, "%llu", sum->hints_generated);
	if (json_key(out, st, "kernel_ksm_run")) {
		if (sum->ksm_run >= 0)
			fprintf(out, "%d", sum->ksm_run);
		else
			fputs("null", out);
	}
	if (json_key(out, st, "kernel_ksm_blocks"))
		fputs(sum->ksm_blocks ? "true" : "false", out);
	fputs("\n}\n", out);
}

void prometheus_name(char *buf, size_t len, const char *key)
{
	const struct field_info *fi = field_info(key);

	snprintf(buf, len, "ksmpp_%s%s", key,
		 fi && fi->type == METRIC_COUNTER ? "_total" : "");
}

/* @s as a Prometheus label value or HELP text (quotes escaped if @label). */
static void prom_escape(FILE *out, const char *s, bool label)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (label && *s == '"')
			fputs("\\\"", out);
		else
			fputc(*s, out);
	}
}

static void prom_header(FILE *out, const char *name, const char *help,
			enum metric_type type)
{
	static const char * const types[] = {
		[METRIC_UNTYPED] = "untyped",
		[METRIC_GAUGE] = "gauge",
		[METRIC_COUNTER] = "counter",
	};

	fprintf(out, "# HELP %s ", name);
	prom_escape(out, help, false);
	fprintf(out, "\n# TYPE %s %s\n", name, types[type]);
}

void report_prometheus(FILE *out, const struct ksmpp_status *st,
		       const struct ksmpp_summary *sum)
{
	const char *state = ksmpp_status_str(st, "state", "unknown");
	bool known_state = false;
	char name[KSMPP_KEY_MAX + 16], help[KSMPP_KEY_MAX + 32];
	size_t i;

	prom_header(out, "ksmpp_info", "ksmpp's version and the kernel it runs on.",
		    METRIC_GAUGE);
	fputs("ksmpp_info{version=\"", out);
	prom_escape(out, ksmpp_status_str(st, "version", ""), true);
	fputs("\",kernel=\"", out);
	prom_escape(out, ksmpp_status_str(st, "kernel", ""), true);
	fputs("\"} 1\n", out);

	prom_header(out, "ksmpp_state", "The scanner's state: 1 for the current one.",
		    METRIC_GAUGE);
	for (i = 0; i < ARRAY_SIZE(states); i++) {
		fprintf(out, "ksmpp_state{state=\"%s\"} %d\n", states[i],
			!strcmp(state, states[i]));
		known_state |= !strcmp(state, states[i]);
	}
	if (!known_state) {
		fputs("ksmpp_state{state=\"", out);
		prom_escape(out, state, true);
		fputs("\"} 1\n", out);
	}

	for (i = 0; i < st->nfields; i++) {
		const struct ksmpp_field *f = &st->fields[i];
		const struct field_info *fi = field_info(f->key);

		if (!f->numeric)
			continue;
		prometheus_name(name, sizeof(name), f->key);
		if (!fi)
			snprintf(help, sizeof(help), "The %s figure of /proc/ksmpp.", f->key);
		prom_header(out, name, fi ? fi->help : help,
			    fi ? fi->type : METRIC_UNTYPED);
		fprintf(out, "%s %llu\n", name, f->num);
	}

	prom_header(out, "ksmpp_memory_saved_bytes",
		    "Memory saved by merging: pages_sharing times the page size.",
		    METRIC_GAUGE);
	fprintf(out, "ksmpp_memory_saved_bytes %llu\n", sum->saved_bytes);
	prom_header(out, "ksmpp_general_profit_bytes",
		    "Memory saved less ksmpp's metadata, as KSM's general_profit.",
		    METRIC_GAUGE);
	fprintf(out, "ksmpp_general_profit_bytes %lld\n", sum->general_profit);
	if (sum->has_sharing_ratio) {
		prom_header(out, "ksmpp_sharing_ratio",
			    "pages_sharing / pages_shared.", METRIC_GAUGE);
		fprintf(out, "ksmpp_sharing_ratio %.6f\n", sum->sharing_ratio);
	}
	if (sum->has_hint_hit_rate) {
		prom_header(out, "ksmpp_hint_hit_ratio",
			    "merges_hint / pages_scanned_hint.", METRIC_GAUGE);
		fprintf(out, "ksmpp_hint_hit_ratio %.6f\n", sum->hint_hit_rate);
	}
	if (sum->ksm_run >= 0) {
		prom_header(out, "ksmpp_kernel_ksm_running",
			    "1 if kernel KSM runs (/sys/kernel/mm/ksm/run is 1): ksmpp does not merge then.",
			    METRIC_GAUGE);
		fprintf(out, "ksmpp_kernel_ksm_running %d\n", sum->ksm_blocks);
	}
}
