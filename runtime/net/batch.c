/*
 * batch.c - in the network half (net.h): many runs at once from one thread: a table of drive_task
 * records, one per run in flight, advanced by the same loop as drive_run. An HTTP provider's calls
 * are easy handles on one libcurl multi handle driven through its socket interface: the thread
 * waits in epoll_wait for whichever socket is ready, for libcurl's next timeout, for the next retry
 * that is due, or for a tenth of a second to pass (to renew leases and notice a signal), so
 * the work per wake-up does not grow with the number of runs in flight. Providers without a
 * non-blocking interface answer at once.
 *
 * Group commit: the transitions that become ready in one wake-up of the loop are made durable
 * in one store transaction (driver_ops.begin_group/end_group) instead of one each. A run
 * waits for its transition to be durable before its next call is sent: its task stops at
 * DRIVE_COMMIT, and only once the group is committed does it go on. When anything in a group
 * fails, the group is rolled back whole and each of its transitions is committed again on
 * its own, so that each run gets its own outcome and nothing committed before is touched.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "internal.h"

#define BATCH_TICK_MS 100 /* how often leases and the interrupt flag are looked at */

typedef enum slot_state {
	SLOT_FREE = 0,
	SLOT_READY,    /* to be advanced */
	SLOT_INFLIGHT, /* its call is on the multi handle */
	SLOT_WAITING,  /* backing off before a retry */
	SLOT_COMMIT    /* its transition waits for the next group commit */
} slot_state;

typedef struct slot {
	drive_task t;
	slot_state state;
	size_t index;
	llm_call *call;
} slot;

typedef struct batch {
	ecl_engine *e;
	const ecl_workflow *wf;
	llm_provider *p;
	CURLM *multi;
	/* What ep watches on each descriptor (EPOLLIN/EPOLLOUT, FD_ON when registered, FD_IDLE
	 * when libcurl no longer watches it), indexed by descriptor. */
	unsigned *fds;
	long long deadline_us; /* libcurl's timer: when to call it back, or -1 */
	slot *slots;
	int *free;    /* indexes of free slots, a stack */
	int *pending; /* slots whose transitions wait for the next group commit */
	int *work;    /* the group being committed */
	ecl_batch_fn fn;
	void *ctx;
	/* A worker's (ecl_worker): the runs come from the store's queue */
	const char **names;      /* the workflows it takes */
	char (*ids)[ECL_ID_MAX]; /* the runs a claim took */
	long poll_ms;
	long long next_claim_ms; /* when to look at the queue again */
	long backoff_ms;         /* after a failed claim: the store is tried again after this */
	size_t taken;            /* runs taken so far: the index of the next */
	int nnames;
	/* A worker's row in the store (ecl workers): registered at the start, beaten every
	 * third of a lease, removed at the end */
	store_worker self;
	char host[128];
	char *self_names;       /* self.workflows */
	long long next_beat_ms; /* when to beat (or to try to register again) */
	int registered;
	int idle;        /* the last claim found nothing */
	int nonblocking; /* the provider starts calls on the multi handle */
	int ep;          /* epoll instance watching libcurl's sockets */
	int nfds;
	int nslots;
	int nfree;
	int nwaiting;
	int grouped; /* the driver groups commits */
	int npending;
	int stopping; /* start no more runs */
	int fatal;    /* an error that is not one run's: stop everything (an ECL_* code) */
	char fatal_msg[sizeof(((ecl_engine *)0)->err)];
} batch;

/* The status an ended run is reported with: the run's own, or one of the ECL_BATCH_* ones. */
static const char *status_of(int rc)
{
	switch (rc) {
	case ECL_OK: return ecl_run_status_name(ECL_RUN_COMPLETED);
	case ECL_EFAILED: return ecl_run_status_name(ECL_RUN_FAILED);
	case ECL_EPAUSED: return ecl_run_status_name(ECL_RUN_PAUSED);
	case ECL_ECANCELLED: return ecl_run_status_name(ECL_RUN_CANCELLED);
	/* for a human's answer: no failure */
	case ECL_EWAITING: return ecl_run_status_name(ECL_RUN_WAITING);
	/* another process took the run over */
	case ECL_ESTATE: return ECL_BATCH_LOST;
	case ECL_ESTORE: return ECL_BATCH_ERROR;
	default: return ecl_run_status_name(ECL_RUN_INTERRUPTED);
	}
}

static void report(batch *b, size_t index, const char *run_id, int rc, const char *status)
{
	ecl_batch_end end = {index, run_id, rc, status, NULL};

	if (rc != ECL_OK && rc != ECL_EINTERRUPTED && rc != ECL_EPAUSED && rc != ECL_ECANCELLED &&
	    rc != ECL_EWAITING)
		end.error = b->e->err;
	if (b->fn && b->fn(b->ctx, &end))
		b->stopping = 1;
}

/* The run of slot s ended: report it and free the slot. */
static void slot_end(batch *b, slot *s)
{
	int rc = s->t.rc;

	report(b, s->index, s->t.run->id, rc, status_of(rc));
	drive_task_clear(&s->t);
	run_free(s->t.run);
	s->t.run = NULL;
	s->state = SLOT_FREE;
	b->free[b->nfree++] = (int)(s - b->slots);
}

/* Advance slot s until it waits for something or ends. */
static void slot_step(batch *b, slot *s)
{
	for (;;) {
		int need = drive_task_advance(&s->t);

		if (need == DRIVE_END) {
			slot_end(b, s);
			return;
		}
		if (need == DRIVE_WAIT) {
			s->state = SLOT_WAITING;
			b->nwaiting++;
			return;
		}
		if (need == DRIVE_COMMIT) {
			s->state = SLOT_COMMIT;
			b->pending[b->npending++] = (int)(s - b->slots);
			return;
		}
		/* DRIVE_ASK */
		if (b->nonblocking) {
			int rc;

			s->t.req.tick = NULL; /* this loop watches the time and the signals */
			rc = b->p->start(b->p, &s->t.req, b->multi, s, &s->call, &s->t.res);
			if (rc == ECL_OK) {
				s->state = SLOT_INFLIGHT;
				return;
			}
			drive_task_answer(&s->t, rc);
		} else {
			drive_task_answer(
				&s->t, s->t.d->ops->answer(s->t.d, s->t.run, &s->t.req, &s->t.res));
		}
	}
}

/* Create the run of input `index` in a free slot; the slot, or NULL when the run could not be
 * created (reported). The run is not started: its first call waits until it is stored. */
static slot *create(batch *b, const char *inputs, size_t index)
{
	ecl_engine *e = b->e;
	char id[ECL_ID_MAX];
	slot *s;
	int rc;

	rc = ecl_run_start(e, b->wf, inputs, id);
	if (rc != ECL_OK) {
		report(b, index, "", rc, ECL_BATCH_ERROR);
		if (rc == ECL_ESTORE || rc == ECL_ENOMEM) {
			b->fatal = rc;
			snprintf(b->fatal_msg, sizeof(b->fatal_msg), "%s", e->err);
			b->stopping = 1;
		}
		return NULL;
	}
	/* The run ecl_run_start keeps in memory is this slot's now. */
	s = &b->slots[b->free[--b->nfree]];
	s->index = index;
	s->call = NULL;
	drive_task_init(&s->t, &e->local, e->fresh);
	s->t.group = b->grouped;
	e->fresh = NULL;
	e->fresh_id[0] = '\0';
	s->state = SLOT_READY;
	return s;
}

/* A run created in a group that was rolled back: it does not exist; give its slot back. */
static void uncreate(batch *b, slot *s)
{
	drive_task_clear(&s->t);
	run_free(s->t.run);
	s->t.run = NULL;
	s->state = SLOT_FREE;
	b->free[b->nfree++] = (int)(s - b->slots);
}

/* Fill the free slots with the next inputs, *next onwards. The runs are created in one group
 * (one transaction) when there are several, and each is started once it is stored; when the
 * group fails, each of its runs is created again alone. */
static void launch(batch *b, const char *const *inputs, size_t n, size_t *next)
{
	driver *d = &b->e->local;
	int k = 0, i, grouped;

	if (b->nfree == 0 || *next >= n || b->stopping)
		return;
	grouped = b->grouped && b->nfree > 1 && n - *next > 1 && d->ops->begin_group(d) == ECL_OK;
	while (b->nfree > 0 && *next < n && !b->stopping) {
		slot *s = create(b, inputs[*next], *next);

		(*next)++;
		if (s)
			b->work[k++] = (int)(s - b->slots);
	}
	if (grouped && d->ops->end_group(d, 1) != ECL_OK) {
		int kept = 0;

		/* nothing of the group is stored: create those runs again, one at a time */
		for (i = 0; i < k; i++) {
			slot *s = &b->slots[b->work[i]];
			size_t index = s->index;

			uncreate(b, s);
			if (b->fatal) { /* the store fails: this input fails with it */
				report(b, index, "", b->fatal, ECL_BATCH_ERROR);
				continue;
			}
			if ((s = create(b, inputs[index], index)) != NULL)
				b->work[kept++] = (int)(s - b->slots);
		}
		k = kept;
	}
	for (i = 0; i < k; i++)
		slot_step(b, &b->slots[b->work[i]]);
}

/* Make the transitions waiting in b->pending durable, in one group when there are several,
 * and let their runs go on (which sends their next calls). Runs that reach another
 * transition at once (a step without a call, a provider that answers at once) wait for the
 * next group. Groups are not capped: caps of 1, 4 and 16 were measured slower on variant B
 * (bench/README.md), as they only add commits. */
static void flush(batch *b)
{
	driver *d = &b->e->local;
	int n = b->npending, i, rc;

	if (n == 0)
		return;
	/* take the group out of the pending list: the runs' next transitions go there */
	memcpy(b->work, b->pending, (size_t)n * sizeof(*b->work));
	b->npending = 0;
	if (n > 1 && d->ops->begin_group(d) == ECL_OK) {
		int wrc = ECL_OK;

		for (i = 0; i < n && wrc == ECL_OK; i++)
			wrc = drive_task_write(&b->slots[b->work[i]].t);
		rc = d->ops->end_group(d, wrc == ECL_OK);
		if (wrc != ECL_OK)
			rc = wrc; /* the group was dropped */
	} else {
		rc = ECL_EUSAGE; /* one alone, or no group: each on its own below */
	}
	for (i = 0; i < n; i++) {
		slot *s = &b->slots[b->work[i]];

		/* after a failed group, each is committed again alone and gets its own outcome */
		drive_task_committed(&s->t, rc == ECL_OK ? ECL_OK : drive_task_write(&s->t));
		s->state = SLOT_READY;
		slot_step(b, s);
	}
}

/* Transfers that ended: hand their outcome to their runs. */
static void collect(batch *b)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(b->multi, &left)) != NULL) {
		llm_call *call = NULL;
		slot *s;
		int rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		if (!call)
			continue;
		s = call->tag;
		curl_multi_remove_handle(b->multi, msg->easy_handle);
		rc = b->p->finish(call, msg->data.result, &s->t.res);
		s->call = NULL;
		drive_task_answer(&s->t, rc);
		s->state = SLOT_READY;
		slot_step(b, s);
	}
}

/* Retries that are due; the time until the next one (ms), or -1 when none waits. */
static long wake_due(batch *b)
{
	long long now = clock_mono_us(), next = -1;
	int i;

	if (!b->nwaiting)
		return -1;
	for (i = 0; i < b->nslots; i++) {
		slot *s = &b->slots[i];

		if (s->state != SLOT_WAITING)
			continue;
		if (s->t.wake_us <= now || drive_task_should_stop(&s->t)) {
			b->nwaiting--;
			s->state = SLOT_READY;
			slot_step(b, s);
		} else if (next < 0 || s->t.wake_us < next) {
			next = s->t.wake_us;
		}
	}
	return next < 0 ? -1 : (long)((next - now + 999) / 1000);
}

/* Every tenth of a second: renew leases, and abandon the calls of runs that must stop. */
static void tend(batch *b)
{
	long long now = clock_now_ms();
	int i;

	for (i = 0; i < b->nslots; i++) {
		slot *s = &b->slots[i];

		if (s->state != SLOT_INFLIGHT && s->state != SLOT_WAITING)
			continue;
		drive_task_beat(&s->t, now);
		if (s->state != SLOT_INFLIGHT || !drive_task_should_stop(&s->t))
			continue;
		b->p->cancel(s->call, b->multi);
		s->call = NULL;
		memset(&s->t.res, 0, sizeof(s->t.res));
		s->t.res.retry_after_ms = -1;
		s->t.res.fault = LLM_FAULT_TRANSIENT;
		snprintf(s->t.res.error, sizeof(s->t.res.error), "abandoned");
		drive_task_answer(&s->t, ECL_EPROVIDER);
		s->state = SLOT_READY;
		slot_step(b, s);
	}
}

#define FD_ON   (1u << 30) /* registered with ep */
#define FD_IDLE (1u << 31) /* libcurl removed it: registered still, until it is used or wakes */

/* The entry of fd in b->fds, grown as needed; NULL when out of memory. */
static unsigned *fd_entry(batch *b, int fd)
{
	if (fd < 0)
		return NULL;
	if (fd >= b->nfds) {
		int n = b->nfds ? b->nfds : 256;
		unsigned *f;

		while (n <= fd)
			n *= 2;
		f = mem_realloc(b->fds, (size_t)n * sizeof(*f));
		if (!f)
			return NULL;
		memset(f + b->nfds, 0, (size_t)(n - b->nfds) * sizeof(*f));
		b->fds = f;
		b->nfds = n;
	}
	return &b->fds[fd];
}

/* libcurl says which sockets to watch for what. A socket it stops watching at the end of a
 * transfer (its connection goes back to the cache) stays registered: the next transfer on
 * that connection changes what is watched with one epoll_ctl instead of a removal and an
 * addition, and an idle socket that wakes the loop (the server closed it) is removed then. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	batch *b = userp;
	struct epoll_event ev;
	unsigned *f = fd_entry(b, fd);
	int on;

	(void)easy;
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = fd;
	if (what == CURL_POLL_REMOVE) {
		if (f && (*f & FD_ON))
			*f |= FD_IDLE;
		else
			epoll_ctl(b->ep, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
	/* A socket registered before may have been closed since (the kernel dropped it from ep)
	 * and its number reused: so it is always told again, with the other operation as the
	 * fallback. */
	on = socketp || (f && (*f & FD_ON));
	if (epoll_ctl(b->ep, on ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0 &&
	    epoll_ctl(b->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) != 0)
		return -1;
	if (f)
		*f = ev.events | FD_ON;
	if (!socketp)
		curl_multi_assign(b->multi, fd, b);
	return 0;
}

/* An event on fd: 1 when it is libcurl's; an idle socket is no longer watched. */
static int fd_wanted(batch *b, int fd)
{
	unsigned *f = fd >= 0 && fd < b->nfds ? &b->fds[fd] : NULL;

	if (!f || !(*f & FD_IDLE))
		return 1;
	epoll_ctl(b->ep, EPOLL_CTL_DEL, fd, NULL);
	*f = 0;
	return 0;
}

static int on_timer(CURLM *multi, long ms, void *userp)
{
	batch *b = userp;

	(void)multi;
	b->deadline_us = ms < 0 ? -1 : clock_mono_us() + ms * 1000LL;
	return 0;
}

/* Wait up to timeout_ms for libcurl's sockets or its timer, and let it do its work. */
static void pump(batch *b, long timeout_ms)
{
	struct epoll_event evs[256];
	long long now = clock_mono_us();
	int n, k, running;

	if (b->deadline_us >= 0) {
		long curl_ms = (long)((b->deadline_us - now + 999) / 1000);

		if (curl_ms < timeout_ms)
			timeout_ms = curl_ms < 0 ? 0 : curl_ms;
	}
	n = epoll_wait(b->ep, evs, 256, (int)timeout_ms);
	for (k = 0; k < n; k++) {
		int flags;

		if (!fd_wanted(b, evs[k].data.fd))
			continue;
		flags = (evs[k].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			(evs[k].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			(evs[k].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

		curl_multi_socket_action(b->multi, evs[k].data.fd, flags, &running);
	}
	if (b->deadline_us >= 0 && clock_mono_us() >= b->deadline_us) {
		b->deadline_us = -1;
		curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
}

/* A batch stopped before every input had its run: each input left gets a run that nobody
 * drives, stored as queued at its first step and reported as "queued", so that the batch
 * goes on as a whole with `ecl recover` or workers. One transaction for all of them. */
static void queue_rest(batch *b, const char *const *inputs, size_t n, size_t next)
{
	driver *d = &b->e->local;
	int grouped = b->grouped && d->ops->begin_group(d) == ECL_OK, rc = ECL_OK;
	size_t i, stored;
	char(*ids)[ECL_ID_MAX] = mem_calloc(n - next, sizeof(*ids));

	if (!ids) {
		if (grouped)
			d->ops->end_group(d, 0);
		b->fatal = ECL_ENOMEM;
		snprintf(b->fatal_msg, sizeof(b->fatal_msg),
			 "out of memory storing the runs not started");
		return;
	}
	for (i = next; i < n && rc == ECL_OK; i++)
		rc = ecl_run_enqueue(b->e, b->wf, inputs[i], ids[i - next]);
	stored = rc == ECL_OK ? n : i - 1; /* ids[next..stored) are stored, unless grouped */
	if (grouped) {
		int grc = d->ops->end_group(d, rc == ECL_OK);

		if (rc == ECL_OK)
			rc = grc;
		if (rc != ECL_OK)
			stored = next; /* nothing of the group is stored */
	}
	if (rc != ECL_OK) {
		b->fatal = rc;
		snprintf(b->fatal_msg, sizeof(b->fatal_msg),
			 "cannot store the runs not started: %.980s", b->e->err);
	}
	b->stopping = 1;
	for (i = next; i < stored; i++)
		report(b, i, ids[i - next], ECL_EINTERRUPTED, ECL_BATCH_QUEUED);
	mem_free(ids);
}

static int interrupted(const ecl_engine *e)
{
	return e->interrupt && *e->interrupt;
}

/* One turn of the loop once the runs to start are started: let due retries go, commit what
 * is ready, wait for sockets, timers or a tenth of a second, renew leases. */
static void turn(batch *b, long long *last_tend)
{
	long timeout = BATCH_TICK_MS, wake = wake_due(b);

	if (wake >= 0 && wake < timeout)
		timeout = wake;
	flush(b);
	if (b->npending) /* more transitions are ready already: do not wait */
		timeout = 0;
	if (b->multi) {
		pump(b, timeout);
		collect(b);
	}
	if (clock_now_ms() - *last_tend >= BATCH_TICK_MS || interrupted(b->e)) {
		*last_tend = clock_now_ms();
		tend(b);
	}
	flush(b);
	/* nothing to poll: sleep until the next retry */
	if (!b->multi && b->nwaiting && !b->npending) {
		struct timespec ts = {0, (timeout > 0 ? timeout : 1) * 1000000L};

		nanosleep(&ts, NULL);
	}
}

/* Set up b to drive up to concurrency runs of engine e; ECL_OK or an error (e's errmsg). */
static int batch_init(batch *b, ecl_engine *e, int concurrency)
{
	int i;

	memset(b, 0, sizeof(*b));
	b->e = e;
	b->p = e->llm;
	b->nonblocking = b->p->start && b->p->finish && b->p->cancel;
	b->grouped = e->local.ops->begin_group && e->local.ops->end_group &&
		     e->st->ops->group_begin && e->st->ops->group_end;
	b->nslots = concurrency;
	b->slots = mem_calloc((size_t)concurrency, sizeof(*b->slots));
	b->free = mem_calloc((size_t)concurrency, sizeof(*b->free));
	b->pending = mem_calloc((size_t)concurrency, sizeof(*b->pending));
	b->work = mem_calloc((size_t)concurrency, sizeof(*b->work));
	b->multi = b->nonblocking ? curl_multi_init() : NULL;
	b->ep = -1;
	b->deadline_us = -1;
	if (!b->slots || !b->free || !b->pending || !b->work || (b->nonblocking && !b->multi))
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	if (b->multi) {
		b->ep = epoll_create1(EPOLL_CLOEXEC);
		if (b->ep < 0)
			return engine_fail(e, ECL_EIO, "epoll_create1: %s", strerror(errno));
		curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)concurrency);
		curl_multi_setopt(b->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
		curl_multi_setopt(b->multi, CURLMOPT_SOCKETDATA, b);
		curl_multi_setopt(b->multi, CURLMOPT_TIMERFUNCTION, on_timer);
		curl_multi_setopt(b->multi, CURLMOPT_TIMERDATA, b);
	}
	for (i = concurrency - 1; i >= 0; i--)
		b->free[b->nfree++] = i;
	return ECL_OK;
}

static void batch_free(batch *b)
{
	if (b->multi)
		curl_multi_cleanup(b->multi);
	if (b->ep >= 0)
		close(b->ep);
	mem_free(b->slots);
	mem_free(b->free);
	mem_free(b->pending);
	mem_free(b->work);
	mem_free(b->fds);
	mem_free(b->ids);
	mem_free(b->names);
	mem_free(b->self_names);
}

/* Drive run `id`, which a claim took for this engine, in a free slot. A run that cannot be
 * driven here (its workflow's version no longer keeps what it uses, say) is left
 * interrupted with the reason, for a person to look at, and reported. */
static void adopt(batch *b, const char *id)
{
	ecl_engine *e = b->e;
	store_run row = {0};
	ecl_run *run = NULL;
	size_t index = b->taken++;
	slot *s;
	int rc = run_load(e, id, &row, &run);

	if (rc == ECL_OK)
		rc = run_adopt_version(e, &row, run);
	/* a queued run the claim made attempt 1 is driven for the first time */
	if (rc == ECL_OK)
		tracer_prepare(e, &row, run, row.seq == 0 && row.attempt == 1);
	store_run_clear(&row);
	if (rc != ECL_OK) {
		char why[sizeof(e->err)];

		snprintf(why, sizeof(why), "%s", e->err);
		e->st->ops->release(e->st, id, e->owner, ecl_run_status_name(ECL_RUN_INTERRUPTED),
				    why, clock_now_ms());
		run_free(run);
		report(b, index, id, rc, ECL_BATCH_ERROR);
		return;
	}
	log_event(e, LOG_INFO, "claimed", "run", id, "step", run->wf->steps[run->state].name, NULL);
	s = &b->slots[b->free[--b->nfree]];
	s->index = index;
	s->call = NULL;
	drive_task_init(&s->t, &e->local, run);
	s->t.group = b->grouped;
	s->state = SLOT_READY;
	slot_step(b, s);
}

/* Fill the free slots with runs from the queue, unless it was found empty (or the store
 * failing) a moment ago. A claim that fails is said once and tried again with backoff. */
static void take(batch *b)
{
	ecl_engine *e = b->e;
	long long now = clock_now_ms();
	int n = 0, i, rc;

	if (b->nfree == 0 || b->stopping || now < b->next_claim_ms)
		return;
	rc = e->st->ops->claim(e->st, e->owner, b->names, b->nnames, b->nfree, now,
			       now + e->lease_ms, b->ids, &n);
	if (rc != ECL_OK) {
		if (!b->backoff_ms)
			log_event(e, LOG_WARN, "the store failed; trying again", "error",
				  e->st->ops->errmsg(e->st), NULL);
		b->backoff_ms = b->backoff_ms ? b->backoff_ms * 2 : 100;
		if (b->backoff_ms > 5000)
			b->backoff_ms = 5000;
		b->next_claim_ms = now + b->backoff_ms;
		return;
	}
	if (b->backoff_ms)
		log_event(e, LOG_INFO, "the store answers again", NULL);
	b->backoff_ms = 0;
	b->idle = n == 0;
	/* a claim that filled every free slot may have left more: look again at once */
	b->next_claim_ms = n < b->nfree ? now + b->poll_ms : now;
	for (i = 0; i < n; i++)
		adopt(b, b->ids[i]);
}

/* The workflows a worker takes, checked: ECL_OK, or ECL_EUSAGE naming one it does not have. */
static int worker_names(batch *b, const ecl_worker_options *o)
{
	ecl_engine *e = b->e;
	size_t i, n = o->workflows ? o->nworkflows : e->nworkflows;

	b->names = mem_calloc(n ? n : 1, sizeof(*b->names));
	if (!b->names)
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const char *name = o->workflows ? o->workflows[i] : e->workflows[i]->id;

		if (!ecl_workflow_find(e->workflows, e->nworkflows, name))
			return engine_fail(e, ECL_EUSAGE,
					   "unknown workflow `%s`: this program does not have it",
					   name);
		b->names[b->nnames++] = name;
	}
	if (b->nnames == 0)
		return engine_fail(e, ECL_EUSAGE, "the worker has no workflow to run");
	return ECL_OK;
}

/* The worker's row as it registers: who it is (its lease owner, e->owner, "host/pid/nonce"),
 * what it takes and how many at once. ECL_OK or ECL_ENOMEM. */
static int worker_self(batch *b, int concurrency)
{
	ecl_engine *e = b->e;
	buf names = {0};
	long long now = clock_now_ms();
	int i;

	snprintf(b->host, sizeof(b->host), "%.*s", (int)strcspn(e->owner, "/"), e->owner);
	for (i = 0; i < b->nnames; i++) {
		if (i)
			buf_puts(&names, ",");
		buf_puts(&names, b->names[i]);
	}
	if (names.oom || !names.data) {
		buf_free(&names);
		return engine_fail(e, ECL_ENOMEM, "out of memory");
	}
	b->self_names = names.data;
	b->self.id = e->owner;
	b->self.host = b->host;
	b->self.pid = (long long)getpid();
	b->self.workflows = b->self_names;
	b->self.concurrency = concurrency;
	b->self.lease_ms = e->lease_ms;
	b->self.started_ms = now;
	return ECL_OK;
}

/* Beat when it is time: the worker's heartbeat, or its registration when it has no row yet
 * (the store failed when it tried, or its row was removed as a dead worker's). A failure is
 * tried again at the next beat; the claims say that the store fails. */
static void worker_beat(batch *b)
{
	store *st = b->e->st;
	long long now = clock_now_ms();
	int rc = ECL_ENOTFOUND;

	if (now < b->next_beat_ms)
		return;
	b->next_beat_ms = now + b->e->lease_ms / 3;
	b->self.heartbeat_ms = now;
	if (b->registered)
		rc = st->ops->worker_beat(st, b->self.id, now);
	if (rc == ECL_ENOTFOUND)
		rc = st->ops->worker_register(st, &b->self);
	b->registered = rc == ECL_OK;
}

int ecl_worker(ecl_engine *e, const ecl_worker_options *o)
{
	int concurrency = o && o->concurrency > 0 ? o->concurrency : 10;
	long long last_tend = 0;
	batch b;
	int rc;

	e->err[0] = '\0';
	e->stop_requested = 0;
	if (!o)
		return engine_fail(e, ECL_EUSAGE, "no worker options");
	if ((rc = batch_init(&b, e, concurrency)) != ECL_OK ||
	    (rc = worker_names(&b, o)) != ECL_OK || (rc = worker_self(&b, concurrency)) != ECL_OK)
		goto out;
	if (!(b.ids = mem_calloc((size_t)concurrency, sizeof(*b.ids)))) {
		rc = engine_fail(e, ECL_ENOMEM, "out of memory");
		goto out;
	}
	b.fn = o->on_end;
	b.ctx = o->ctx;
	b.poll_ms = o->poll_ms > 0 ? o->poll_ms : 200;
	for (;;) {
		if (interrupted(e) || e->stop_requested || (o->drain && *o->drain))
			b.stopping = 1;
		worker_beat(&b);
		take(&b);
		if (b.nfree == b.nslots) { /* nothing in flight */
			long long wait = b.next_claim_ms - clock_now_ms();
			struct timespec ts;

			if (b.stopping || b.fatal || (o->exit_when_idle && b.idle))
				break;
			/* idle: look again when due, and at the drain flag every tenth of a second
			 */
			wait = wait < 1 ? 1 : wait > BATCH_TICK_MS ? BATCH_TICK_MS : wait;
			ts.tv_sec = 0;
			ts.tv_nsec = (long)wait * 1000000L;
			nanosleep(&ts, NULL);
			continue;
		}
		turn(&b, &last_tend);
	}
	if (b.fatal)
		rc = engine_fail(e, b.fatal, "%s", b.fatal_msg);
	else if (interrupted(e))
		rc = engine_fail(e, ECL_EINTERRUPTED, "interrupted");
	/* it stops: `ecl workers` no longer lists it (a row left behind, when the store fails
	 * now, shows as stale and is removed by the next worker to start) */
	e->st->ops->worker_remove(e->st, b.self.id);
out:
	batch_free(&b);
	return rc;
}

int ecl_batch_drive(ecl_engine *e, const ecl_workflow *wf, const char *const *inputs, size_t n,
		    int concurrency, ecl_batch_fn fn, void *ctx)
{
	batch b;
	size_t next = 0;
	long long last_tend = 0;
	int rc;

	e->err[0] = '\0';
	e->stop_requested = 0;
	if (concurrency < 1)
		return engine_fail(e, ECL_EUSAGE, "the concurrency must be at least 1, not %d",
				   concurrency);
	if ((size_t)concurrency > n)
		concurrency = n ? (int)n : 1;
	if ((rc = batch_init(&b, e, concurrency)) != ECL_OK)
		goto out;
	b.wf = wf;
	b.fn = fn;
	b.ctx = ctx;
	for (;;) {
		if (interrupted(e) || e->stop_requested)
			b.stopping = 1;
		launch(&b, inputs, n, &next);
		if (b.nfree == b.nslots) /* nothing in flight */
			break;
		turn(&b, &last_tend);
	}
	if (!b.fatal && next < n)
		queue_rest(&b, inputs, n, next);
	if (b.fatal)
		rc = engine_fail(e, b.fatal, "%s", b.fatal_msg);
	else if (next < n)
		rc = engine_fail(e, ECL_EINTERRUPTED,
				 "interrupted: %zu of %zu runs were not started", n - next, n);
out:
	batch_free(&b);
	return rc;
}
