"""Fault injection against a real multi-process Concierge: do the reliability promises hold?

Starts its own PostgreSQL (initdb into a temporary directory) and Redis (no persistence), the
offline model over HTTP behind a fault-injecting proxy, daphne, Celery workers and beat as separate
processes; then drives websocket customers of /ws/chat/ (as the widget does: it reconnects, resumes
from the hello, drops what the hello covered) through four phases:

    kills     customers cancel orders and open returns while workers are SIGKILLed with a run
              surely in flight (the model's stream paced so runs last), one worker down at a
              time (the supervisor restarts it, as systemd would); the sweep hands their runs on
    faults    the model fails `--fault-rate` of its requests (429 with and without retry-after,
              500, 503, a connection reset, no first byte before the timeout, a stream cut
              mid-answer, a malformed chunk, a tool call's arguments made invalid JSON), and
              refuses connections for a moment now and then
    restarts  PostgreSQL stopped and started again mid-load, then Redis
    soak      customers at human pace for `--soak-seconds`: RSS of every process at start and end,
              database connections sampled against the pools' bounds

After each phase it audits the database and what each customer saw, prints the figures, writes them
as JSON (--out) and exits 1 if any promise failed. Run it by hand at full size:

    .venv/bin/python bench/chaos.py --size full

(`--size ci` is what tests/chaos/ runs; `medium` sits between.) Needs /usr/lib/postgresql/15/bin,
redis-server, and root or a user that can run PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_customers import Customer, crowd
from bench.chaos_services import Deployment, FaultProxy, Postgres, Redis, free_port

SIZES = {
    # customers per phase, kills, soak; lease/sweep short so a dead worker's run resumes quickly
    "ci": dict(
        kill_customers=6, kills=3, kill_seconds=150, fault_customers=8, restart_customers=4, soak_customers=4,
        soak_seconds=12,
        workers=2, threads=4, lease=4, sweep=2, think=0.3, soak_think=2.0,
    ),
    "medium": dict(
        kill_customers=40, kills=12, kill_seconds=600, fault_customers=40, restart_customers=20, soak_customers=40,
        soak_seconds=90,
        workers=2, threads=8, lease=6, sweep=3, think=0.5, soak_think=8.0,
    ),
    "full": dict(
        kill_customers=300, kills=50, kill_seconds=1800, fault_customers=200, restart_customers=100, soak_customers=200,
        soak_seconds=600, workers=2, threads=32, lease=15, sweep=5, think=1.0, soak_think=20.0,
    ),
}  # fmt: skip
MODEL_TIMEOUT_SECONDS = 3.0
# The kills phase relays the model's stream this slowly (a pause before each chunk): an answer then
# takes seconds to write, so a kill surely lands while runs are in flight, on a quiet machine too.
KILL_PACE_SECONDS = 0.06
MODEL_MAX_ATTEMPTS = 4
DAPHNE_POOL = 10
BEAT_POOL = 2
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}


# --- the harness -----------------------------------------------------------------------------------


class Harness:
    def __init__(self, args) -> None:
        self.args = args
        self.size = SIZES[args.size]
        self.root = Path(tempfile.mkdtemp(prefix="concierge-chaos-"))
        workers, threads = self.size["workers"], self.size["threads"]
        # Every process's pool at its most (the model server's too, though it reads no table), and the harness's own.
        self.pool_bound = 2 * DAPHNE_POOL + BEAT_POOL + workers * (threads + 2) + 1
        self.pg = Postgres(self.root, max_connections=self.pool_bound + 40)
        self.redis = Redis(self.root)
        self.model_port = free_port()
        self.proxy = FaultProxy(self.model_port, timeout_seconds=MODEL_TIMEOUT_SECONDS, seed=args.seed)
        self.figures: dict = {"size": args.size, "parameters": self.size, "phases": {}}
        self.failures: list[str] = []
        self.next_index = 0
        self.seeded = 0  # customers below this index have their orders
        self.deployment: Deployment | None = None
        self.phase_began = time.monotonic()

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CELERY_", "OPENAI_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=self.pg.url,
            REDIS_URL=self.redis.url,
            CELERY_BROKER_URL=self.redis.url,
            CELERY_QUEUE="chaos",
            OPENAI_API_KEY="chaos",
            OPENAI_BASE_URL=self.proxy.url,
            OPENAI_TIMEOUT_SECONDS=str(MODEL_TIMEOUT_SECONDS),
            MODEL_MAX_ATTEMPTS=str(MODEL_MAX_ATTEMPTS),
            MODEL_RETRY_BASE_SECONDS="0.2",
            RUN_LEASE_SECONDS=str(self.size["lease"]),
            RUN_SWEEP_SECONDS=str(self.size["sweep"]),
            RUN_DISPATCH="celery",
            DB_POOL_MAX_SIZE=str(DAPHNE_POOL),
            DB_POOL_TIMEOUT="10",
            WIDGET_SESSIONS_PER_IP_PER_MINUTE="100000",
            WIDGET_MESSAGES_PER_IP_PER_MINUTE="100000",
            WIDGET_MESSAGES_PER_VISITOR_PER_MINUTE="1000",
            DEBUG="false",
            SECRET_KEY="chaos-" + uuid.uuid4().hex * 2,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            STATIC_ROOT=str(self.root / "static"),
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        return env

    # --- setup ---

    def start(self) -> None:
        began = time.monotonic()
        steps = self.figures["setup_steps_seconds"] = {}

        def step(name: str) -> None:
            steps[name] = round(time.monotonic() - began - sum(steps.values()), 1)

        self.pg.init()
        self.redis.start()
        step("postgres_and_redis")
        env = self.environment()
        os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")})
        os.environ["DB_POOL_MAX_SIZE"] = "0"  # the harness's own audit queries: one plain connection
        self.deployment = Deployment(
            self.root, env, workers=self.size["workers"], threads=self.size["threads"], web_port=free_port()
        )
        # The processes start while the schema is made: nothing they do at start needs it, and on
        # two cores their imports and the migrations overlap.
        self.proxy.start()
        self.deployment.start_processes(self.model_port, token_delay_ms=self.args.token_delay_ms)
        import django
        from django.core.management import call_command

        django.setup()
        # Every migration, in this process (it sets Django up for the seed and the audits anyway): no
        # second interpreter importing Django and running the system checks on two busy cores.
        call_command("migrate", interactive=False, verbosity=0)
        step("migrate")
        self.seed()
        step("seed")
        self.deployment.wait_until_ready()
        self.deployment.worker_start_delay = self.args.worker_start_delay
        self.deployment.supervise()
        step("processes")
        self.figures["setup_seconds"] = round(time.monotonic() - began, 1)
        print(f"deployment up in {self.figures['setup_seconds']} s (logs: {self.root})", flush=True)

    def seed(self) -> None:
        """The demo assistant, and for every customer of every phase their own paid and delivered orders
        (customers that come later, in the kills phase's extra batches or the soak's rounds, get theirs
        when they come)."""
        from orders.assistant.persona import ensure_demo_assistant

        ensure_demo_assistant()
        self.seeded = 0
        self.seed_orders(sum(self.size[k] for k in ("kill_customers", "fault_customers", "restart_customers")))

    def seed_orders(self, upto: int) -> None:
        """Orders P1xxxx (paid) and D1xxxx (delivered) for the customers with an index below `upto`."""
        from datetime import timedelta
        from decimal import Decimal

        from django.utils import timezone

        from orders.models import Customer as ShopCustomer
        from orders.models import Order, OrderItem, Product

        if upto <= self.seeded:
            return
        napkins, _ = Product.objects.get_or_create(sku="NAP-4", defaults={"name": "Linen Napkins", "price": "9.00"})
        now = timezone.now()
        indexes = range(self.seeded, upto)
        shoppers = ShopCustomer.objects.bulk_create(
            ShopCustomer(email=f"c{index}@chaos.test", name=f"Chaos {index}") for index in indexes
        )
        orders = Order.objects.bulk_create(
            Order(
                number=f"{kind}{10000 + index}",
                customer=shopper,
                status=Order.Status.PAID if kind == "P" else Order.Status.DELIVERED,
                subtotal=Decimal("9.00"),
                total=Decimal("9.00"),
                paid_at=now,
                delivered_at=now - timedelta(days=2) if kind == "D" else None,
            )
            for index, shopper in zip(indexes, shoppers, strict=True)
            for kind in ("P", "D")
        )
        OrderItem.objects.bulk_create(
            OrderItem(order=order, product=napkins, sku="NAP-4", name="Linen Napkins", quantity=1, unit_price="9.00")
            for order in orders
        )
        self.seeded = upto

    def customers(self, count: int, kinds: tuple[str, ...]) -> list[Customer]:
        self.seed_orders(self.next_index + count)
        made = [Customer(index=self.next_index + i, kind=kinds[i % len(kinds)]) for i in range(count)]
        self.next_index += count
        return made

    def turn_timeout(self) -> float:
        return 60.0 + 4 * (self.size["lease"] + self.size["sweep"])

    def drive(self, customers: list[Customer], *, ramp: float, think: float | None = None) -> threading.Thread:
        """The customers, in a thread of their own (the phase's faults are injected from this one)."""
        url = self.deployment.url
        think = self.size["think"] if think is None else think
        thread = threading.Thread(
            target=lambda: asyncio.run(crowd(url, customers, ramp=ramp, think=think, turn_timeout=self.turn_timeout()))
        )
        thread.start()
        return thread

    # --- phases ---

    def phase_kills(self) -> None:
        """SIGKILL a worker while a run of it is surely in flight, `kills` times, one worker down at a time.

        The model's stream is relayed slowly (KILL_PACE_SECONDS a chunk) so runs are in flight long
        enough to be hit, and customers keep coming (a batch at a time, for at most `kill_seconds`)
        until the kills have landed. A worker is killed only when every worker is up: the one killed
        before has been restarted by the supervisor and is consuming again, as a real operator's
        supervisor would have it (docs/reliability.md, "A worker dies mid-run").
        """
        size = self.size
        customers = self.customers(size["kill_customers"], ("cancel", "return"))
        began = time.time()
        workers = self.deployment.worker_names()
        received = (b"support.tasks.execute_run[", b"] received")  # a worker took an execute_run task
        tasks_before = self.deployment.log_count(workers, *received)
        self.proxy.pace_seconds = KILL_PACE_SECONDS
        driving = [self.drive(customers, ramp=max(2.0, size["kill_customers"] / 10))]
        kills: list[dict] = []
        restarts: list[float] = []  # seconds from each kill until the restarted worker consumed again
        batches = 1
        rng = random.Random(self.args.seed)
        give_up = time.monotonic() + size["kill_seconds"]
        hit: set[int] = set()
        idle = 0  # checks in a row that found no run to kill
        takeovers = TakeoverWatch()
        while len(kills) < size["kills"] and time.monotonic() < give_up:
            if idle >= 4 and not self._unhit_runs_active(hit):
                # The customers were (nearly) done before the kills landed: more come, while the phase lasts.
                batch = self.customers(max(2, size["kill_customers"] // 3), ("cancel", "return"))
                customers = [*customers, *batch]
                driving.append(self.drive(batch, ramp=1.0))
                batches += 1
                idle = 0
            time.sleep(rng.uniform(0.2, 1.2))
            if not self.args.kill_eagerly and not all(self.deployment.ready(name) for name in workers):
                continue  # the worker killed last is not back yet: one down at a time
            victim, runs = self._busy_worker(rng, spare=hit)
            if victim is None:
                idle += 1
                continue
            idle = 0
            hit.update(r["run"] for r in runs)
            pid = self.deployment.kill(victim)
            killed_at = time.time()
            print(f"  SIGKILL {victim} (pid {pid}) with {len(runs)} run(s) in flight: {runs}", flush=True)
            if not self.args.kill_eagerly:
                self.deployment.wait_ready(victim, timeout=120)  # the supervisor restarts it; none killed meanwhile
            takeovers.killed([r["run"] for r in runs], pid=pid, at=killed_at)
            kills.append({"at": killed_at, "worker": victim, "pid": pid, "runs": runs})
            restarts.append(round(time.time() - killed_at, 1))
        for thread in driving:
            thread.join()
        self.proxy.pace_seconds = 0.0
        self.settle()
        takeovers.stop()
        figures = self.audit(customers, since=began)
        figures["customer_batches"] = batches
        figures["kills"] = len(kills)
        figures["kills_landed_on"] = [r["moment"] for k in kills for r in k["runs"]]
        figures["runs_hit"] = len({r["run"] for k in kills for r in k["runs"]})
        figures["worker_ready_after_kill_seconds"] = restarts
        figures["execute_run_tasks"] = (
            self.deployment.log_count(workers, b"support.tasks.execute_run[", b"] received") - tasks_before
        )
        figures["resume_seconds_max"] = self._resume_seconds(kills)  # to the run's end
        figures["takeover_seconds_max"] = max(takeovers.seconds.values(), default=0.0)
        figures["runs_never_taken_over"] = sorted(takeovers.pending)
        bound = size["lease"] + size["sweep"]
        figures["resume_bound_seconds"] = bound
        figures["unexpected_exits"] = [e for e in self.deployment.unexpected_exits() if e["at"] >= began]
        self.expect(not figures["unexpected_exits"], f"processes exited on their own: {figures['unexpected_exits']}")
        self.expect(len(kills) == size["kills"], f"only {len(kills)} of {size['kills']} kills landed")
        never = figures["runs_never_taken_over"]
        self.expect(not never, f"killed runs never taken over: {never}")
        # The takeover (TakeoverWatch, polled) is reported: it waits for the lease to lapse, the sweep
        # and then a free worker thread, which the bound of lease + sweep does not count.
        self.expect(
            figures["resume_seconds_max"] <= bound + 15,
            f"a killed run took {figures['resume_seconds_max']} s to end (lease + sweep {bound} s, +15 s of its own)",
        )
        self.record("kills", figures)

    @staticmethod
    def _unhit_runs_active(hit: set[int]) -> bool:
        """Runs queued or in flight that no kill hit yet (there is something left to kill, or soon)."""
        from runtime.models import Run

        return Run.objects.filter(status__in=("queued", "in_progress")).exclude(pk__in=hit).exists()

    def _busy_worker(self, rng: random.Random, spare: set[int]) -> tuple[str | None, list[dict]]:
        """A worker with a run surely in flight now (claimed by its current process, under a lease it
        keeps renewing) that no kill has hit yet (those in `spare`: killing one run over and over
        only measures how often it was killed), and where each of its runs is (streaming, in a tool, …)."""
        from django.utils import timezone

        from runtime.models import Message, Run, RunStep

        names = [name for name, alive in self.deployment.alive().items() if alive and name.startswith("worker")]
        pids = {name: self.deployment.processes[name].pid for name in names}
        running = list(
            Run.objects.filter(status="in_progress", lease_expires_at__gt=timezone.now()).values_list(
                "pk", "claimed_by"
            )
        )
        busy = {}
        for pk, claimed_by in running:
            for name, pid in pids.items():
                if f":{pid}:" in (claimed_by or ""):
                    busy.setdefault(name, []).append(pk)
        busy = {name: pks for name, pks in busy.items() if set(pks) - spare}
        if not busy:
            return None, []
        victim = rng.choice(sorted(busy))
        runs = []
        for pk in busy[victim]:
            moment = "before the first model call"
            if Message.objects.filter(run_id=pk, status="in_progress").exists():
                moment = "while streaming the answer"
            elif RunStep.objects.filter(run_id=pk, type="tool_calls", status="in_progress").exists():
                moment = "between a tool's start and its result"
            elif Run.objects.filter(pk=pk, round_trips__gt=0).exists():
                moment = "waiting for the model"
            runs.append({"run": pk, "moment": moment})
        return victim, runs

    def _resume_seconds(self, kills: list[dict]) -> float:
        """The longest time from the last kill that hit a run to that run's end."""
        from runtime.models import Run

        last_kill: dict[int, float] = {}
        for kill in kills:
            for entry in kill["runs"]:
                last_kill[entry["run"]] = max(last_kill.get(entry["run"], 0.0), kill["at"])
        worst = 0.0
        for pk, killed_at in last_kill.items():
            run = Run.objects.get(pk=pk)
            ended = run.completed_at or run.failed_at or run.cancelled_at
            if ended is not None:
                worst = max(worst, ended.timestamp() - killed_at)
        return round(worst, 1)

    def phase_faults(self) -> None:
        customers = self.customers(self.size["fault_customers"], ("status", "return"))
        began = time.time()
        self.proxy.rate = self.args.fault_rate
        before = dict(self.proxy.counts.faults), self.proxy.counts.requests
        driving = self.drive(customers, ramp=max(2.0, self.size["fault_customers"] / 10))
        while driving.is_alive():
            driving.join(timeout=random.uniform(2, 5))
            if driving.is_alive():
                self.proxy.refuse_for(0.5)
        self.proxy.rate = 0.0
        self.settle()
        figures = self.audit(customers, since=began)
        counts = self.proxy.counts
        figures["model_requests"] = counts.requests - before[1]
        figures["faults_injected"] = {k: v - before[0].get(k, 0) for k, v in counts.faults.items()}
        figures["refused_windows"] = counts.refused_windows
        injected = sum(figures["faults_injected"].values())
        figures["fault_share"] = round(injected / max(1, figures["model_requests"]), 2)
        figures.update(self._retries(since=began))
        self.expect(figures["max_model_attempts"] <= MODEL_MAX_ATTEMPTS, "a model call was tried past its bound")
        self.record("faults", figures)

    def _retries(self, *, since: float) -> dict:
        from datetime import UTC, datetime

        from django.db.models import Max

        from runtime.models import RunStep

        steps = RunStep.objects.filter(created_at__gte=datetime.fromtimestamp(since, tz=UTC))
        logged = sum(
            (self.root / f"{name}.log").read_text(errors="replace").count("retrying in")
            for name in self.deployment.worker_names()
        )
        return {
            "steps_with_retries": steps.filter(model_attempts__gt=1).count(),
            "max_model_attempts": steps.aggregate(m=Max("model_attempts"))["m"] or 0,
            "retries_logged_by_workers": logged,
        }

    def phase_restarts(self) -> None:
        figures = {}
        for service in ("postgres", "redis"):
            customers = self.customers(self.size["restart_customers"], ("status", "return"))
            began = time.time()
            driving = self.drive(customers, ramp=2.0)
            time.sleep(1.0)
            in_flight = self._streaming_runs(timeout=10.0)  # the restart lands on answers being written
            print(f"  restarting {service} mid-load ({in_flight} runs streaming)", flush=True)
            (self.pg if service == "postgres" else self.redis).restart(down_seconds=2.0)
            driving.join()
            self.settle()
            figures[service] = self.audit(customers, since=began)
            figures[service]["runs_streaming_at_restart"] = in_flight
            exits = [e for e in self.deployment.unexpected_exits() if e["at"] >= began]
            figures[service]["processes_exited"] = sorted({e["process"] for e in exits})
            figures[service]["processes_alive_after"] = all(self.deployment.alive().values())
            self.expect(figures[service]["processes_alive_after"], f"a process is down after the {service} restart")
            # The model does not fail in this phase: every run completes, every turn is answered.
            failed = figures[service]["runs"].get("failed", 0)
            self.expect(failed == 0, f"{failed} runs failed across the {service} restart")
            untold = {k: n for k, n in figures[service]["outcomes"].items() if k not in ("answered", "handoff")}
            self.expect(not untold, f"turns not answered across the {service} restart: {untold}")
        self.record("restarts", figures)

    def _streaming_runs(self, timeout: float) -> int:
        """Wait (up to `timeout`) until an answer is being streamed; how many are."""
        from django.db import close_old_connections

        from runtime.models import Message

        deadline = time.monotonic() + timeout
        while True:
            close_old_connections()
            count = Message.objects.filter(status="in_progress", role="assistant").count()
            if count or time.monotonic() > deadline:
                return count
            time.sleep(0.02)

    def phase_soak(self) -> None:
        customers = self.customers(self.size["soak_customers"], ("status",))
        rss_start = self.deployment.rss()
        began = time.time()
        soak_until = time.monotonic() + self.size["soak_seconds"]
        connections = []
        rss_by_round = []  # every process's RSS after each round: flat after the first (the warm-up)?
        rounds = 0
        batch = customers
        while time.monotonic() < soak_until:
            # Each customer holds a conversation at human pace, then another customer comes.
            driving = self.drive(batch, ramp=self.size["soak_think"], think=self.size["soak_think"])
            while driving.is_alive():
                connections.append(self._connections())
                driving.join(timeout=1)
            rounds += 1
            rss_by_round.append(self.deployment.rss())
            if time.monotonic() < soak_until:
                batch = self.customers(self.size["soak_customers"], ("status",))
                customers = [*customers, *batch]
        figures = self.audit(customers, since=began)
        figures["rounds"] = rounds
        figures["seconds"] = round(time.time() - began, 1)
        figures["rss_mb_start"] = rss_start
        figures["rss_mb_end"] = self.deployment.rss()
        figures["rss_mb_by_round"] = rss_by_round
        figures["db_connections_max"] = max(connections or [0])
        figures["db_connections_bound"] = self.pool_bound
        self.expect(figures["db_connections_max"] <= self.pool_bound, "more database connections than the pools allow")
        self.record("soak", figures)

    def _connections(self) -> int:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'concierge'")
            return cursor.fetchone()[0]

    # --- audit ---

    def settle(self) -> None:
        """Wait until no run is active (or lease + sweep and then some have passed)."""
        from django.db import close_old_connections

        from runtime.models import Run

        deadline = time.monotonic() + 3 * (self.size["lease"] + self.size["sweep"]) + 30
        while time.monotonic() < deadline:
            close_old_connections()
            try:
                if not Run.objects.exclude(status__in=TERMINAL).exists():
                    return
            except Exception:  # the database coming back after a restart
                from django.db import connection

                connection.close()
            time.sleep(0.5)

    def audit(self, customers: list[Customer], *, since: float) -> dict:
        from django.db import close_old_connections
        from django.db.models import Count

        from orders.models import OrderEvent, Return
        from runtime.models import Message, Run

        close_old_connections()
        threads = [c.thread_id for c in customers if c.thread_id]
        runs = Run.objects.filter(thread__public_id__in=threads)
        active = list(runs.exclude(status__in=TERMINAL).values_list("public_id", "status"))
        statuses = dict(runs.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        numbers = [f"P{10000 + c.index}" for c in customers] + [f"D{10000 + c.index}" for c in customers]
        duplicate_returns = list(
            Return.objects.filter(order__number__in=numbers)
            .values("order__number", "item")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .values_list("order__number", "n")
        )
        duplicate_cancels = list(
            OrderEvent.objects.filter(order__number__in=numbers, kind="order_cancelled")
            .values("order__number")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .values_list("order__number", "n")
        )
        stored = {}
        for thread_id, client_id in Message.objects.filter(thread__public_id__in=threads, role="user").values_list(
            "thread__public_id", "metadata__client_id"
        ):
            stored[(thread_id, client_id)] = stored.get((thread_id, client_id), 0) + 1
        turns = [(c, t) for c in customers for t in c.turns]
        lost_customer_messages = [t.client_id for c, t in turns if t.acked and (c.thread_id, t.client_id) not in stored]
        duplicated_customer_messages = [k for k, n in stored.items() if n > 1]
        outcomes: dict[str, int] = {}
        for _, turn in turns:
            outcomes[turn.outcome or "none"] = outcomes.get(turn.outcome or "none", 0) + 1
        lost_turns = [
            {
                "thread": c.thread_id,
                "text": t.text,
                "acked": t.acked,
                "began_at": round(t.began_at, 1),
                "seconds": round(t.seconds, 1),
                "runs": self._runs_of(c.thread_id),
                "seen": t.seen,
                "deltas": t.deltas,
                "last_seq": t.last_seq,
            }
            for c, t in turns
            if t.outcome in ("lost", "")
        ]
        not_offered = [t.told for _, t in turns if t.outcome == "failed_told" and "person" not in t.told]
        duplicated_answers = sum(1 for c in customers for n in c.finals.values() if n > 1)
        reload_mismatch = [c.index for c in customers if c.reloaded and not self._screen_matches_reload(c)]
        figures = {
            "customers": len(customers),
            "turns": len(turns),
            "outcomes": outcomes,
            "runs": statuses,
            "runs_not_terminal": active,
            "duplicate_returns": duplicate_returns,
            "duplicate_cancellations": duplicate_cancels,
            "returns_opened": Return.objects.filter(order__number__in=numbers).count(),
            "orders_cancelled": OrderEvent.objects.filter(order__number__in=numbers, kind="order_cancelled").count(),
            "lost_customer_messages": len(lost_customer_messages),
            "duplicated_customer_messages": len(duplicated_customer_messages),
            "answers_final_twice": duplicated_answers,
            "streamed_differs_from_final": sum(len(c.mismatched) for c in customers),
            "same_words_twice_on_screen": [w for c in customers for w in c.repeated_words],
            "screen_differs_from_reload": reload_mismatch,
            # What each of them saw live and what a reload showed (the answers' first words), to look into.
            "screen_and_reload": {
                c.index: {
                    "live": [t[:40] for t in c.bubbles.values() if t.strip()],
                    "reload": [m["text"][:40] for m in c.reloaded if m["role"] == "assistant" and m["text"].strip()],
                    "errors": c.errors[:12],
                    "trace": c.trace[-60:],
                    "stored": [
                        (m.status, m.run.status if m.run else None, m.text[:40])
                        for m in Message.objects.filter(thread__public_id=c.thread_id, role="assistant")
                        .select_related("run")
                        .order_by("created_at", "id")
                    ],
                }
                for c in customers
                if c.index in reload_mismatch
            },
            "failed_without_offering_a_person": not_offered,
            "reconnects": sum(c.reconnects for c in customers),
            "customer_errors": _tally(e for c in customers for e in c.errors),
            "lost_turns": lost_turns,
            "turn_seconds_max": round(max((t.seconds for _, t in turns), default=0), 1),
        }
        self.expect(not active, f"runs left active: {active}")
        self.expect(not duplicate_returns, f"duplicate returns: {duplicate_returns}")
        self.expect(not duplicate_cancels, f"duplicate cancellations: {duplicate_cancels}")
        self.expect(not lost_customer_messages, f"{len(lost_customer_messages)} customer messages lost")
        self.expect(not duplicated_customer_messages, f"customer messages stored twice: {duplicated_customer_messages}")
        self.expect(outcomes.get("lost", 0) == 0, f"{outcomes.get('lost')} turns never answered nor failed")
        self.expect(outcomes.get("none", 0) == 0, f"{outcomes.get('none')} turns never sent")
        self.expect(not duplicated_answers, f"{duplicated_answers} answers arrived final twice")
        self.expect(not figures["streamed_differs_from_final"], "streamed text differs from the final message")
        self.expect(not figures["same_words_twice_on_screen"], "the same words twice on a customer's screen")
        self.expect(not reload_mismatch, f"the live screen and a reload differ for customers {reload_mismatch}")
        self.expect(not not_offered, f"failed without offering a person: {not_offered[:3]}")
        self.expect(
            not any(e.startswith("fatal") for c in customers for e in c.errors),
            f"customers gave up: {[e for c in customers for e in c.errors if e.startswith('fatal')][:3]}",
        )
        return figures

    @staticmethod
    def _runs_of(thread_id: str) -> list[dict]:
        """A thread's runs, their statuses and when each moved (wall clock seconds, as turns' began_at)."""
        from runtime.models import Run

        stamps = ("created_at", "started_at", "completed_at", "failed_at", "cancelled_at", "lease_expires_at")
        runs = Run.objects.filter(thread__public_id=thread_id).order_by("created_at")
        return [
            {
                "run": run["public_id"],
                "status": run["status"],
                "claimed_by": run["claimed_by"],
                "last_error": run["last_error"],
                **{k: round(run[k].timestamp(), 1) for k in stamps if run[k] is not None},
            }
            for run in runs.values("public_id", "status", "claimed_by", "last_error", *stamps)
        ]

    @staticmethod
    def _screen_matches_reload(customer: Customer) -> bool:
        """What the customer saw live (the completed answers) is what a reload shows."""
        reloaded = [m["text"] for m in customer.reloaded if m["role"] == "assistant" and m["text"].strip()]
        live = [text for text in customer.bubbles.values() if text.strip()]
        return live == reloaded

    def expect(self, ok: bool, failure: str) -> None:
        if not ok:
            self.failures.append(failure)
            print(f"  FAILED: {failure}", flush=True)

    def record(self, phase: str, figures: dict) -> None:
        figures["phase_seconds"] = round(time.monotonic() - self.phase_began, 1)
        self.figures["phases"][phase] = figures
        print(f"{phase}: {json.dumps(figures, default=str)}", flush=True)

    def stop(self) -> None:
        if self.deployment is not None:
            self.figures["rss_mb_at_exit"] = self.deployment.rss()
            self.deployment.stop()
        self.redis.stop()
        self.pg.stop("immediate")
        shutil.rmtree(self.pg.data, ignore_errors=True)  # the logs stay, for a look after a failure


TAKEOVER_POLL_SECONDS = 0.25


class TakeoverWatch:
    """When each killed run is taken over: first seen claimed by another process than the killed
    worker's (or ended), looked for every TAKEOVER_POLL_SECONDS in a thread of its own."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[str, float]] = {}  # run -> (the killed process's mark, killed at)
        self.seconds: dict[int, float] = {}  # run -> seconds from its kill to its takeover
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="takeovers", daemon=True)
        self._thread.start()

    def killed(self, runs: list[int], *, pid: int, at: float) -> None:
        with self._lock:
            self.pending.update({run: (f":{pid}:", at) for run in runs})

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._look()  # a last look: whatever is left was never taken over

    def _watch(self) -> None:
        from django.db import close_old_connections, connection

        try:
            while not self._stop.wait(TAKEOVER_POLL_SECONDS):
                close_old_connections()
                self._look()
        finally:
            connection.close()

    def _look(self) -> None:
        from runtime.models import Run

        with self._lock:
            watched = dict(self.pending)
        if not watched:
            return
        seen = time.time()
        for pk, claimed_by, status in Run.objects.filter(pk__in=watched).values_list("pk", "claimed_by", "status"):
            mark, killed_at = watched[pk]
            if mark not in (claimed_by or "") or status in Run.TERMINAL:
                with self._lock:
                    self.pending.pop(pk, None)
                    self.seconds[pk] = round(seen - killed_at, 1)


def _tally(items) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item[:60]] = counts.get(item[:60], 0) + 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="full")
    parser.add_argument("--phases", default="kills,faults,restarts,soak", help="comma-separated, in this order")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of model requests that fail")
    parser.add_argument("--token-delay-ms", type=float, default=5.0, help="the model's pause between chunks")
    parser.add_argument(
        "--kill-eagerly",
        action="store_true",
        help="kill the next busy worker without waiting for the last one killed to be back (for comparison: "
        "no supervisor restarts that fast; the figures in docs/reliability.md say what it does)",
    )
    parser.add_argument(
        "--worker-start-delay",
        type=float,
        default=0.0,
        help="seconds the supervisor waits before starting a killed worker again (a loaded machine's slow start)",
    )
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    random.seed(args.seed)
    harness = Harness(args)
    began = time.monotonic()
    try:
        harness.start()
        for phase in args.phases.split(","):
            print(f"--- {phase}", flush=True)
            harness.phase_began = time.monotonic()
            getattr(harness, f"phase_{phase.strip()}")()
    finally:
        harness.stop()
    if harness.deployment is not None:
        harness.figures["process_exits"] = harness.deployment.exits
    harness.figures["wall_seconds"] = round(time.monotonic() - began, 1)
    harness.figures["failures"] = harness.failures
    if args.out:
        args.out.write_text(json.dumps(harness.figures, indent=2, default=str))
    print(f"{'FAILED' if harness.failures else 'PASSED'} in {harness.figures['wall_seconds']} s", flush=True)
    for failure in harness.failures:
        print(f"  - {failure}")
    return 1 if harness.failures else 0


if __name__ == "__main__":
    sys.exit(main())
