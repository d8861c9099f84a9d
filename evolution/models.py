"""Evolution runs, their per-generation statistics, the strategies they discover, and the
trial ledger.

- `EvolutionRun`: what was asked (seeds, instruments, range and split, population,
  generations, costs, random seed, and the exact engine configuration derived from
  them), where it is (status, generations completed, which generation is out for
  evaluation), the engine checkpoint after the last completed generation, and the
  run-level results (hall of fame, out-of-sample truth, deflated Sharpe, PBO).
- `GenerationStat`: one row per completed generation (unique per run).
- `Strategy`: one evolved genome, identified by `{seed_or_combo}_{generation}_{hash[:8]}`
  (unique), with its lineage (parents), the fitness it had in the run that found it,
  its validation by split and its lifecycle status. A genome rediscovered by a later
  run is the same strategy: its trials point to the existing row.
- `Trial`: every evaluation of a run (valid or not), with what the deflated Sharpe
  ratio and PBO need (per-period returns), unique per (run, generation, position).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EvolutionRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        STOPPED = "stopped", "Stopped"

    class Executor(models.TextChoices):
        CELERY = "celery", "Celery workers"
        SERIAL = "serial", "In-process (serial)"

    ACTIVE = (Status.PENDING, Status.RUNNING)
    FINISHED = (Status.COMPLETED, Status.FAILED, Status.STOPPED)

    name = models.CharField(max_length=200, blank=True)
    # --- what was asked
    seeds = models.JSONField(default=list, help_text="Seed names the genomes may use")
    instruments = models.ManyToManyField("trading.Instrument", related_name="evolution_runs")
    timeframe = models.CharField(max_length=4, default="1h")
    start = models.DateTimeField()
    end = models.DateTimeField()
    split = models.JSONField(default=list, help_text="In-sample / out-of-sample / walk-forward "
                             "fractions of the range")
    warmup_bars = models.PositiveIntegerField(default=720, help_text="Bars before the start "
                                              "loaded to warm indicators up")
    population = models.PositiveIntegerField()
    generations = models.PositiveIntegerField()
    batch_size = models.PositiveIntegerField(default=5, help_text="Genomes per Celery task")
    validate_top = models.PositiveIntegerField(default=10, help_text="Best strategies validated "
                                               "in / out of sample and walk-forward at the end")
    objectives = models.JSONField(default=list)
    costs = models.JSONField(default=dict, help_text="maker_fee, taker_fee, slippage")
    random_seed = models.BigIntegerField()
    ga_config = models.JSONField(default=dict, help_text="The engine's GAConfig")
    evaluation_config = models.JSONField(default=dict, help_text="The engine's EvaluationConfig")
    windows = models.JSONField(default=dict, help_text="IS / OOS / WF spans, epoch ms")
    executor = models.CharField(max_length=10, choices=Executor.choices, default=Executor.CELERY)
    # --- where it is
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    progress = models.FloatField(default=0.0, help_text="Fraction done, 0..1")
    progress_message = models.CharField(max_length=200, blank=True)
    completed_generations = models.PositiveIntegerField(default=0)
    dispatched_generation = models.IntegerField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    evaluated_in_generation = models.PositiveIntegerField(default=0)
    finishing_started_at = models.DateTimeField(null=True, blank=True)
    stop_requested = models.BooleanField(default=False)
    checkpoint = models.JSONField(null=True, blank=True, help_text="Engine checkpoint after "
                                  "the last completed generation")
    # --- what it found
    dataset = models.JSONField(default=dict, blank=True, help_text="Bars scored per instrument")
    hall_of_fame = models.JSONField(default=dict, blank=True)
    validation = models.JSONField(default=dict, blank=True,
                                  help_text="identity -> IS/OOS/WF figures and lookahead")
    best_combined = models.FloatField(null=True, blank=True)
    deflated_sharpe = models.FloatField(null=True, blank=True)
    pbo = models.FloatField(null=True, blank=True)
    overfitting = models.JSONField(default=dict, blank=True)
    error_message = models.TextField(blank=True)
    # --- timings
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    evaluation_seconds = models.FloatField(default=0.0)
    validation_seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "dispatched_at"], name="evo_run_status_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(start__lt=models.F("end")),
                                   name="evolution_start_before_end"),
            models.CheckConstraint(condition=models.Q(progress__gte=0, progress__lte=1),
                                   name="evolution_progress_fraction"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}".strip()

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class GenerationStat(models.Model):
    run = models.ForeignKey(EvolutionRun, on_delete=models.CASCADE, related_name="generation_stats")
    generation = models.PositiveIntegerField()
    evaluated = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()
    failure_reasons = models.JSONField(default=dict)
    objectives = models.JSONField(default=dict, help_text="objective -> best / median / worst")
    best_combined = models.FloatField(null=True, blank=True)
    median_combined = models.FloatField(null=True, blank=True)
    unique_ratio = models.FloatField()
    mean_distance = models.FloatField()
    reseeded = models.PositiveIntegerField(default=0)
    reseed_next = models.PositiveIntegerField(default=0)
    best_identity = models.CharField(max_length=200, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_id", "generation"]
        constraints = [
            models.UniqueConstraint(fields=["run", "generation"], name="uniq_generation_stat"),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} generation {self.generation}"


class Strategy(models.Model):
    class Lifecycle(models.TextChoices):
        BORN = "born", "Born"
        TESTING = "testing", "Testing"
        PRODUCTION = "production", "Production"
        DECAYING = "decaying", "Decaying"
        DEAD = "dead", "Dead"

    identity = models.CharField(max_length=200, unique=True)
    seed_or_combo = models.CharField(max_length=150, db_index=True)
    genes_hash = models.CharField(max_length=64, db_index=True)
    genome = models.JSONField(help_text="Genome.to_dict(): blocks, generation, parent identities")
    description = models.TextField(blank=True, help_text="The genome in words")
    generation = models.PositiveIntegerField()
    parents = models.ManyToManyField("self", symmetrical=False, blank=True,
                                     related_name="children")
    run = models.ForeignKey(EvolutionRun, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="discovered_strategies",
                            help_text="The run that found it")
    objectives = models.JSONField(default=dict, help_text="In-sample fitness in its run")
    combined = models.FloatField(db_index=True)
    sharpe = models.FloatField()
    assets = models.JSONField(default=list, help_text="Per-instrument in-sample figures")
    metrics = models.JSONField(default=dict, blank=True,
                               help_text="IS / OOS / WF figures side by side and by instrument")
    lookahead = models.JSONField(default=dict, blank=True)
    lookahead_passed = models.BooleanField(default=True, help_text="The GA's aimed-cut gate "
                                           "passed; after validation, also the thorough check")
    validated_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Lifecycle.choices, default=Lifecycle.BORN,
                              db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-combined", "id"]
        verbose_name_plural = "strategies"

    def __str__(self) -> str:
        return self.identity


class Trial(models.Model):
    run = models.ForeignKey(EvolutionRun, on_delete=models.CASCADE, related_name="trials")
    generation = models.PositiveIntegerField()
    position = models.PositiveIntegerField(help_text="Index in the generation's genomes")
    identity = models.CharField(max_length=200)
    genes_hash = models.CharField(max_length=64)
    strategy = models.ForeignKey(Strategy, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="trials")
    objectives = models.JSONField(default=dict)
    combined = models.FloatField()
    reason = models.TextField(blank=True, help_text="Why it got the worst fitness (empty: valid)")
    period_origin_ms = models.BigIntegerField(default=0)
    period_ms = models.BigIntegerField(default=0)
    period_returns = models.JSONField(default=list, help_text="Equal-weight return per period")

    class Meta:
        ordering = ["run_id", "generation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "generation", "position"], name="uniq_trial"),
        ]
        indexes = [models.Index(fields=["run", "genes_hash"], name="evo_trial_genes_idx")]

    def __str__(self) -> str:
        return f"run {self.run_id} g{self.generation} #{self.position} {self.identity}"

    @property
    def ok(self) -> bool:
        return not self.reason
