"""Utility: does a model trained on synthetic data do as well on real holdout rows as one trained on real data?

Three measurements, all scored on the real holdout, which no model ever trains on:

- TSTR vs TRTR (`utility_score`): the same pipeline trained on the synthetic table (Train Synthetic,
  Test Real) and on the real training table (Train Real, Test Real), for a gradient-boosting model and a
  linear baseline, over several seeds. The `utility` gate compares TSTR with TRTR trained on real samples
  of the synthetic table's size (bootstraps of the training rows, so the verdict turns on fidelity, not on
  row count) and judges the gap against those samples' own spread (core.gates.judge, see
  `UtilityScore.judgement`); a target the real model cannot predict better than chance, beyond that spread,
  is "not judgeable" (passed, never failed). The full-size TRTR is kept beside it for information.
- Blend sweep (`blend_sweep`): synthetic data is meant to be blended with real data, not to replace it,
  and the synthetic:real ratio is a hyperparameter. The sweep trains on a designed set of mixes
  (`BlendDesign`) and marks the mix that scores best on the holdout.
- Feature-importance agreement (`feature_importance_agreement`): permutation importance on the holdout of
  the real-trained and the synthetic-trained model, side by side, and their Spearman rank correlation.

Every model is one sklearn Pipeline (`build_pipeline`): the same feature preparation (`build_preprocessor`:
category codes, one-hot for the linear model and native categorical splits for boosting; numbers and dates
imputed and scaled) in front of HistGradientBoosting (default) or a linear model (LogisticRegression /
Ridge). A pipeline is fitted on its own training rows only, so categories it never saw are ignored
(one-hot zeros) or read as missing (boosting) at prediction time.

Seeds: seed k is the model's random_state (gradient boosting samples 80% of the features at each split, so
its result depends on the seed; the linear models are deterministic and show a spread of 0) and, in the
blend sweep, also the seed of the row draws. Early stopping is off, so a run is reproducible.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.stats import norm, spearmanr
from scipy.stats import t as student_t
from threadpoolctl import threadpool_limits
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler, label_binarize

from core.data.encoding import EncodedColumn, EncodedTables
from core.errors import UsageError
from core.data.metadata import Metadata
from core.gates import CALIBRATION_DEFAULTS, Judgement, judge, rule_text, spec
from core.stats.memo import fingerprint, remember

GATE_NAME = "utility"
# Default gate threshold on `skill_retained_score`: the synthetic-trained model must keep at least 90% of
# the real-trained model's skill above chance (ROC-AUC above 0.5, R2 above 0) on the real holdout.
# Measured with a fresh real sample in place of the synthetic table: 0.98 on the 16,000-row census demo,
# 0.96-1.00 on penguins / wine / breast cancer (60-190 training rows), 0.85-1.00 (median 0.93) on diabetes
# regression with 147 training rows, where R2 itself moves by +-0.05 between two real samples. Synthetic
# tables whose columns were shuffled independently score 0. So 0.9 passes a faithful generator on tables of
# a few thousand rows with room to spare and flags a clear loss of predictive structure; on tables of a
# few hundred rows a fresh real sample can itself land just below it (the seeds' spread does not show this
# training-sample noise, only the model's own randomness).
UTILITY_FALLBACK = spec("utility").threshold  # used only where the real rows are too few to resample
# Below this much real-model skill (ROC-AUC 0.55, R2 0.05) the target is barely predictable from the
# other columns even with real data; a ratio of two near-chance scores is noise, so the gate is left out.
MIN_REAL_SKILL = 0.05

DEFAULT_SEEDS = (0, 1, 2)
# Pairs of disjoint real samples of the synthetic size (without replacement, at most half the real rows each,
# each fit with its own model seed) trained for the gate's null: each pair costs two fits of the reference model;
# 6 pairs give the judge enough draws for the normal tail it fits at false-alarm rates finer than they resolve.
UTILITY_RESAMPLES = 6  # pairs of samples: 12 fits
MODELS = ("gradient_boosting", "linear")
PRIMARY_MODEL = "gradient_boosting"
# Gradient boosting: 100 iterations of 31-leaf trees at learning rate 0.1, no early stopping (determinism).
# On 16,000 rows x 15 columns one fit takes about a second on 2 cores; more iterations rarely change the
# TSTR/TRTR comparison, which is a relative one.
GB_MAX_ITER = 100
GB_MAX_FEATURES = 0.8  # share of features drawn at each split: the seed's effect on the model
LINEAR_MAX_ITER = 1000
# One-hot width per categorical column: the most frequent categories, the rest pooled as OTHER_CATEGORY.
ONE_HOT_MAX_CATEGORIES = 30
# Classification targets with more classes than this are refused (one tree per class and iteration).
MAX_CLASSES = 50
# Native thread pools (OpenMP in gradient boosting, BLAS) are held to one thread: on a shared 2-core machine
# two OpenMP threads competing with other work made one 16,000-row fit 3-10x slower, not 2x faster.
NUM_THREADS = 1
IMPORTANCE_REPEATS = 5
# Holdout rows drawn for each permutation repeat: importance costs 2 x features x repeats predictions.
IMPORTANCE_MAX_ROWS = 1000
MISSING_CATEGORY = "(missing)"
OTHER_CATEGORY = "(other)"  # the infrequent categories of a column with more than ONE_HOT_MAX_CATEGORIES

CLASSIFICATION_METRICS = ("roc_auc", "f1_macro", "accuracy")
REGRESSION_METRICS = ("r2", "mean_absolute_error")
GREATER_IS_BETTER = {"roc_auc": True, "f1_macro": True, "accuracy": True, "r2": True, "mean_absolute_error": False}
# Skill of a model that knows nothing, for the primary metrics (ROC-AUC of a constant score, R2 of the mean).
CHANCE_LEVEL = {"roc_auc": 0.5, "r2": 0.0}
METRIC_LABELS = {"roc_auc": "ROC-AUC", "f1_macro": "F1 (macro)", "accuracy": "accuracy", "r2": "R2",
                 "mean_absolute_error": "MAE"}

Progress = Callable[[float, str], None]


# ----------------------------------------------------------------------------------------------- task


@dataclass(frozen=True)
class UtilityTask:
    """What is predicted from what: the target, the task kind, its metrics and the feature columns."""

    target: str
    kind: str  # "classification" | "regression"
    features: dict[str, str]  # feature column -> sdtype, in table order
    skipped: dict[str, str]  # column left out of the features -> reason
    classes: tuple[str, ...] = ()  # classification: the holdout's classes, sorted (labels as text)

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metric names for this task, primary first."""
        return CLASSIFICATION_METRICS if self.kind == "classification" else REGRESSION_METRICS

    @property
    def primary_metric(self) -> str:
        """ROC-AUC for classification, R2 for regression."""
        return self.metrics[0]


def detect_task(train: pd.DataFrame, holdout: pd.DataFrame, metadata: Metadata, target: str) -> UtilityTask:
    """Classification for a categorical/boolean target, regression for a numerical one; UsageError otherwise."""
    if target not in metadata or target not in train.columns or target not in holdout.columns:
        raise UsageError(f"target column '{target}' is not a column of the tables")
    sdtype = metadata[target]
    if sdtype in ("id", "text", "datetime"):
        raise UsageError(f"target column '{target}' is a {sdtype} column; pick a categorical, boolean or numerical one")
    kind = "classification" if sdtype in ("categorical", "boolean") else "regression"
    missing = int(holdout[target].isna().sum())
    if missing:
        raise UsageError(f"target column '{target}' has {missing} missing value(s) in the holdout; fill or drop them")
    for role, frame in (("training", train), ("holdout", holdout)):
        values = frame[target].dropna()
        distinct = values.astype(str).nunique() if kind == "classification" else values.nunique()
        if distinct < 2:
            raise UsageError(f"target column '{target}' is constant in the {role} data; there is nothing to predict")
    classes: tuple[str, ...] = ()
    if kind == "classification":
        classes = tuple(sorted(pd.unique(_labels(holdout[target]))))
        if len(classes) > MAX_CLASSES:
            raise UsageError(f"target column '{target}' has {len(classes)} classes in the holdout; "
                             f"utility supports up to {MAX_CLASSES}")
    features, skipped = {}, {}
    for column, column_sdtype in metadata.items():
        if column == target:
            continue
        if column_sdtype in ("id", "text"):
            skipped[column] = f"{column_sdtype} column: not a model feature"
        else:
            features[column] = column_sdtype
    if not features:
        raise UsageError(f"no feature columns are left to predict target column '{target}' from")
    return UtilityTask(target=target, kind=kind, features=features, skipped=skipped, classes=classes)


def _labels(series: pd.Series) -> np.ndarray:
    """Class labels as text, so True, 'True' and 1/1.0 read the same in every table."""
    return series.astype(str).to_numpy()


# --------------------------------------------------------------------------------------- pipelines


def _days_since_epoch(frame: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns as float days since 1970-01-01 (NaN where missing)."""
    return frame.apply(lambda s: (pd.to_datetime(s) - pd.Timestamp(0)) / pd.Timedelta(days=1))


def as_category_text(series: pd.Series) -> pd.Series:
    """A categorical column as pandas 'category' dtype over text labels, missing as its own category.

    `_prepare` converts each table once, so the pipelines fitted on every mix skip this (slow) text step.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) and not series.isna().any() and dtype.categories.dtype == object \
            and all(isinstance(c, str) for c in dtype.categories):
        return series
    return series.astype(object).where(series.notna(), MISSING_CATEGORY).astype(str).astype("category")


class FrequentCategories(TransformerMixin, BaseEstimator):
    """Categorical columns as integer codes of their `max_categories` most frequent categories in fit; any
    other category (infrequent in fit, or unseen) gets code -1, read by the one-hot encoder as OTHER.

    Code -1 is a one-hot column only if fit pooled some categories; otherwise the one-hot encoder never saw
    it and encodes an unseen category as all zeros (handle_unknown="ignore"). Integer codes let
    OneHotEncoder work in numpy (on text it counts in a Python loop: most of a 16,000-row fit's time).
    """

    def __init__(self, max_categories: int = ONE_HOT_MAX_CATEGORIES):
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame, y=None) -> "FrequentCategories":
        """Remember each column's most frequent categories (ties broken by label, for determinism)."""
        X = pd.DataFrame(X)
        self.kept_ = {}
        for column in X.columns:
            counts = as_category_text(X[column]).value_counts()
            counts = counts[counts > 0]
            order = np.lexsort((counts.index.to_numpy(dtype=str), -counts.to_numpy()))
            self.kept_[column] = counts.index.to_numpy(dtype=str)[order][: self.max_categories]
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """One integer code column per input column: position among the kept categories, or -1."""
        X = pd.DataFrame(X)
        codes = [pd.Categorical(as_category_text(X[c]), categories=kept).codes for c, kept in self.kept_.items()]
        return np.column_stack(codes).astype(np.int64) if codes else np.empty((len(X), 0), dtype=np.int64)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """One output per input column."""
        return self.feature_names_in_


def build_preprocessor(features: dict[str, str], one_hot: bool = True) -> ColumnTransformer:
    """Shared feature preparation: category codes first (one-hot, unknown -> zeros, if one_hot), then numbers
    and dates (as days) median-imputed with missing indicators and scaled."""
    numeric = [c for c, s in features.items() if s == "numerical"]
    dates = [c for c, s in features.items() if s == "datetime"]
    categories = [c for c, s in features.items() if s in ("categorical", "boolean")]

    def impute_scale() -> list:
        return [("impute", SimpleImputer(strategy="median", add_indicator=True)), ("scale", StandardScaler())]

    transformers = []
    if categories:  # first, so the boosting model finds the category codes at columns 0..k-1
        steps = [("frequent", FrequentCategories())]
        if one_hot:
            steps.append(("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)))
        transformers.append(("categorical", Pipeline(steps), categories))
    if numeric:
        transformers.append(("numerical", Pipeline(impute_scale()), numeric))
    if dates:
        as_days = FunctionTransformer(_days_since_epoch, feature_names_out="one-to-one")
        transformers.append(("datetime", Pipeline([("days", as_days), *impute_scale()]), dates))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def build_estimator(kind: str, model: str, seed: int, n_categorical: int = 0):
    """The model of a pipeline: HistGradientBoosting (no early stopping; the first n_categorical columns are
    category codes it splits on natively, negative = other/unseen = missing) or LogisticRegression / Ridge."""
    if model == "gradient_boosting":
        params = dict(max_iter=GB_MAX_ITER, early_stopping=False, max_features=GB_MAX_FEATURES, random_state=seed,
                      categorical_features=list(range(n_categorical)) or None)
        if kind == "classification":
            return HistGradientBoostingClassifier(**params)
        return HistGradientBoostingRegressor(**params)
    if model == "linear":
        return LogisticRegression(max_iter=LINEAR_MAX_ITER) if kind == "classification" else Ridge(alpha=1.0)
    raise UsageError(f"model '{model}' is not one of {', '.join(MODELS)}")


def build_pipeline(task: UtilityTask, model: str, seed: int) -> Pipeline:
    """Feature preparation followed by the model: what every TRTR, TSTR and blend run fits.

    The linear model reads categories one-hot; gradient boosting reads the same category codes with its
    native categorical splits: on 15 columns with ~100 one-hot levels that fits 3-4x faster, at equal ROC-AUC
    within 0.002 on the census demo table.
    """
    n_categorical = sum(s in ("categorical", "boolean") for s in task.features.values())
    one_hot = model != "gradient_boosting"
    return Pipeline([("features", build_preprocessor(task.features, one_hot=one_hot)),
                     ("model", build_estimator(task.kind, model, seed, 0 if one_hot else n_categorical))])


def predict(pipeline, task: UtilityTask, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions, and for classification class probabilities aligned to task.classes (0 for unseen ones)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # categories unseen in training are encoded as zeros, by design
        if task.kind == "regression":
            return pipeline.predict(X), None
        raw = pipeline.predict_proba(X)
    # What predict() returns, without running the model twice: the most probable class (first on a tie).
    predicted = pipeline.classes_[np.argmax(raw, axis=1)]
    proba = np.zeros((len(X), len(task.classes)))
    column = {label: j for j, label in enumerate(task.classes)}
    for j, label in enumerate(pipeline.classes_):
        if label in column:
            proba[:, column[label]] = raw[:, j]
    return predicted, proba


# ------------------------------------------------------------------------------------------ metrics


def classification_metrics(y_true: np.ndarray, predicted: np.ndarray, proba: np.ndarray, classes: Sequence[str],
                           metrics: Sequence[str] = CLASSIFICATION_METRICS) -> dict[str, float]:
    """ROC-AUC (binary, or macro one-vs-rest), macro F1 and accuracy over the holdout's classes.

    proba holds one column per class in `classes`; a class the model never saw has a column of zeros,
    which scores a one-vs-rest AUC of 0.5 for that class. F1 is averaged over the holdout's classes, so a
    predicted class the holdout does not have only costs the recall of the true classes. Labels are
    compared as integer positions in `classes` (-1: not a holdout class), which sklearn scores far faster.
    """
    true_codes = pd.Categorical(y_true, categories=list(classes)).codes
    scores = {}
    if "roc_auc" in metrics:
        if len(classes) == 2:
            scores["roc_auc"] = float(roc_auc_score(true_codes == 1, proba[:, 1]))
        else:
            indicator = label_binarize(true_codes, classes=list(range(len(classes))))
            scores["roc_auc"] = float(roc_auc_score(indicator, proba, average="macro"))
    predicted_codes = pd.Categorical(predicted, categories=list(classes)).codes
    if "f1_macro" in metrics:
        scores["f1_macro"] = float(f1_score(true_codes, predicted_codes, labels=list(range(len(classes))),
                                            average="macro", zero_division=0))
    if "accuracy" in metrics:
        scores["accuracy"] = float(accuracy_score(true_codes, predicted_codes))
    return scores


def regression_metrics(y_true: np.ndarray, predicted: np.ndarray,
                       metrics: Sequence[str] = REGRESSION_METRICS) -> dict[str, float]:
    """R2 and mean absolute error."""
    functions = {"r2": r2_score, "mean_absolute_error": mean_absolute_error}
    return {name: float(functions[name](y_true, predicted)) for name in metrics}


def score_predictions(pipeline, task: UtilityTask, X: pd.DataFrame, y: np.ndarray,
                      metrics: Sequence[str] | None = None) -> dict[str, float]:
    """The task's metrics (or the ones named) for a fitted pipeline on (X, y)."""
    predicted, proba = predict(pipeline, task, X)
    if task.kind == "classification":
        return classification_metrics(y, predicted, proba, task.classes, metrics or task.metrics)
    return regression_metrics(y, predicted, metrics or task.metrics)


def relative_score(metric: str, tstr: float, trtr: float) -> float | None:
    """Synthetic relative to real, 1.0 = parity, higher is better: TSTR/TRTR, or TRTR/TSTR for an error (MAE)."""
    numerator, denominator = (tstr, trtr) if GREATER_IS_BETTER[metric] else (trtr, tstr)
    if denominator == 0 or not (math.isfinite(numerator) and math.isfinite(denominator)):
        return None
    return float(numerator / denominator)


def skill_retained(metric: str, tstr: float, trtr: float) -> float | None:
    """(TSTR - chance) / (TRTR - chance): the share of the real model's skill above chance that synthetic keeps.

    Chance is 0.5 for ROC-AUC and 0 for R2, so for R2 this is TSTR/TRTR. A negative TSTR R2 (worse than
    predicting the holdout mean) gives a negative value, which the gate reads as 0. None when the real
    model itself has less than MIN_REAL_SKILL: the target is not predictable enough to judge utility.
    """
    chance = CHANCE_LEVEL[metric]
    if trtr - chance < MIN_REAL_SKILL:
        return None
    return float((tstr - chance) / (trtr - chance))


# ----------------------------------------------------------------------------------- result classes


@dataclass
class Spread:
    """A metric over seeds: every value, and mean, std (population), min and max."""

    values: list[float]

    @property
    def mean(self) -> float:
        """Mean over seeds."""
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        """Standard deviation over seeds (ddof=0)."""
        return float(np.std(self.values))

    def to_dict(self) -> dict:
        """mean, std, min, max and the per-seed values."""
        return {"mean": self.mean, "std": self.std, "min": float(min(self.values)),
                "max": float(max(self.values)), "values": [float(v) for v in self.values]}


@dataclass
class MetricComparison:
    """One metric of one model: TRTR and TSTR over seeds, and TSTR relative to TRTR."""

    metric: str
    trtr: Spread
    tstr: Spread

    @property
    def greater_is_better(self) -> bool:
        """False only for errors (MAE)."""
        return GREATER_IS_BETTER[self.metric]

    @property
    def relative_score(self) -> float | None:
        """Mean TSTR relative to mean TRTR, direction-aware (see `relative_score`)."""
        return relative_score(self.metric, self.tstr.mean, self.trtr.mean)

    def to_dict(self) -> dict:
        """JSON form; relative_score is higher-is-better whatever the metric's direction."""
        return {"greater_is_better": self.greater_is_better, "trtr": self.trtr.to_dict(),
                "tstr": self.tstr.to_dict(), "relative_score": self.relative_score}


@dataclass
class UtilityScore:
    """TSTR vs TRTR on the holdout for each model and metric, and the utility gate's value."""

    task: UtilityTask
    seeds: list[int]
    models: dict[str, dict[str, MetricComparison]]  # model -> metric -> comparison
    estimators: dict[str, str]  # model -> the estimator's repr (its settings)
    rows: dict[str, int]  # train / synthetic / holdout rows used, and rows dropped for a missing target
    threshold: float = UTILITY_FALLBACK  # fixed fallback (no null)
    matched_trtr: Spread | None = None  # reference model's primary metric, trained on real samples of synthetic size
    matched_rows: int = 0  # rows of each of those samples: the synthetic size, at most half the real rows
    matched_pairs: list[tuple[float, float]] = field(default_factory=list)  # (sample A, disjoint sample B) per resample
    holdout_class_counts: tuple[int, ...] = ()  # classification: holdout rows per class (task.classes order)
    alpha: float = float(CALIBRATION_DEFAULTS["false_alarm_rate"])
    tolerance: float = 0.0

    @property
    def reference_model(self) -> str:
        """The model with the best mean TRTR on the primary metric: the one a practitioner would ship."""
        metric = self.task.primary_metric
        return max(self.models, key=lambda m: self.models[m][metric].trtr.mean)

    @property
    def primary(self) -> MetricComparison:
        """The reference model's primary-metric comparison."""
        return self.models[self.reference_model][self.task.primary_metric]

    @property
    def chance(self) -> float:
        """The primary metric's chance level (ROC-AUC 0.5, R2 0)."""
        return CHANCE_LEVEL[self.task.primary_metric]

    @property
    def full_size_skill_retained(self) -> float | None:
        """(TSTR - chance) / (full-size TRTR - chance): informative; mixes fidelity with row count."""
        return skill_retained(self.task.primary_metric, self.primary.tstr.mean, self.primary.trtr.mean)

    @property
    def synthetic_model(self) -> str:
        """The model with the best mean TSTR on the primary metric: the one a practitioner would ship from the
        synthetic table (a lone model's bad luck on a small table, e.g. a linear fit thrown by a few rows, is not
        the table's loss of utility)."""
        metric = self.task.primary_metric
        return max(self.models, key=lambda m: self.models[m][metric].tstr.mean)

    @property
    def best_tstr(self) -> float:
        """Mean TSTR of the synthetic model on the primary metric."""
        return self.models[self.synthetic_model][self.task.primary_metric].tstr.mean

    @property
    def matched_skill(self) -> float | None:
        """Mean skill above chance of the real model trained on real samples of the synthetic size."""
        return None if self.matched_trtr is None else self.matched_trtr.mean - self.chance

    @property
    def skill_retained_score(self) -> float | None:
        """(best TSTR - chance) / (size-matched TRTR of the reference model - chance); None if not judgeable."""
        if self.not_judgeable is not None:
            return None
        if self.matched_trtr is None:
            return self.full_size_skill_retained
        return float((self.best_tstr - self.chance) / self.matched_skill)

    @property
    def null(self) -> np.ndarray | None:
        """Skill retained by each real sample of the synthetic size, relative to their mean: the gate's null."""
        if self.matched_trtr is None or self.not_judgeable is not None:
            return None
        # B - A of two independent samples varies as 2 sigma^2; the statistic (TSTR minus the mean of all 2R
        # samples) as sigma^2 (1 + 1/2R): scale the pair differences to that.
        a, b = (np.array([pair[i] for pair in self.matched_pairs], dtype=float) for i in (0, 1))
        scale = math.sqrt((1.0 + 1.0 / (2 * len(a))) / 2.0)
        # The spread is estimated from a few pairs: widen it to Student's t at the gate's level (a prediction
        # interval for one more real sample), which the judge's normal tail then reads as is.
        scale *= float(student_t.ppf(1.0 - self.alpha, max(len(a) - 1, 1)) / norm.ppf(1.0 - self.alpha))
        null = 1.0 + (b - a) * scale / self.matched_skill
        # Near a perfect score, samples drawn from one training table agree to the last pair of rows while a
        # fresh real sample does not (penguins: 0.999 +- 0.0007 over halves, 0.993 for another third). The
        # metric's own sampling error on the holdout (Hanley-McNeil for ROC-AUC, at the size-matched value)
        # bounds the null's spread from below.
        floor = self.holdout_standard_error / self.matched_skill
        spread = float(np.std(null, ddof=1)) if len(null) > 1 else 0.0
        if spread < floor:
            standard = (null - null.mean()) / spread if spread > 0 else \
                norm.ppf((np.arange(len(null)) + 0.5) / len(null))
            null = 1.0 + standard * floor
        return null

    @property
    def holdout_standard_error(self) -> float:
        """Hanley-McNeil standard error of the size-matched ROC-AUC on the holdout's classes (macro: their mean);
        0 for regression, whose R2 spread the pairs measure."""
        if self.task.primary_metric != "roc_auc" or self.matched_trtr is None or not self.holdout_class_counts:
            return 0.0
        auc = min(max(self.matched_trtr.mean, 0.5), 1.0 - 1e-9)
        total = sum(self.holdout_class_counts)
        counts = self.holdout_class_counts[1:] if len(self.holdout_class_counts) == 2 else self.holdout_class_counts
        errors = []
        for positives in counts:
            negatives = total - positives
            if positives < 1 or negatives < 1:
                continue
            q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
            var = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)) / (
                positives * negatives)
            errors.append(math.sqrt(max(var, 0.0)))
        return float(np.mean(errors)) if errors else 0.0

    @property
    def matched_spread(self) -> float:
        """Standard deviation of one real sample's primary metric at the synthetic size, from the pair differences."""
        if not self.matched_pairs:
            return 0.0
        differences = np.array([b - a for a, b in self.matched_pairs], dtype=float)
        return float(np.sqrt(np.mean(differences**2) / 2.0))

    @property
    def not_judgeable(self) -> str | None:
        """Why the target cannot be judged (no real skill above chance beyond its spread), or None."""
        label = METRIC_LABELS[self.task.primary_metric]
        if self.matched_trtr is None:
            if skill_retained(self.task.primary_metric, self.primary.tstr.mean, self.primary.trtr.mean) is None:
                return (f"the real-trained {self.reference_model} model scores {label} {self.primary.trtr.mean:.3f} "
                        f"on the holdout, too close to chance ({self.chance}) to judge utility")
            return None
        values = np.asarray(self.matched_trtr.values, dtype=float)
        spread = max(self.matched_spread, float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)
        margin = float(norm.ppf(1.0 - self.alpha)) * spread
        if self.matched_skill <= max(margin, 1e-9):
            return (f"not judgeable: the real-trained {self.reference_model} model, trained on real samples of the "
                    f"synthetic size ({self.matched_rows} rows), scores {label} {self.matched_trtr.mean:.3f} "
                    f"(spread {spread:.3f} over {len(values)} samples), no real skill above chance ({self.chance}) "
                    f"beyond its own noise")
        return None

    @property
    def judgement(self) -> Judgement | None:
        """The gate judged against its null (None when not judgeable)."""
        value = self.gate_value
        if value is None:
            return None
        return judge(GATE_NAME, value, self.null, alpha=self.alpha, tolerance=self.tolerance, fallback=self.threshold)

    @property
    def gate_value(self) -> float | None:
        """skill_retained_score clipped to [0, 1]; None when not judgeable."""
        value = self.skill_retained_score
        return None if value is None else float(min(1.0, max(0.0, value)))

    @property
    def not_applicable(self) -> str | None:
        """Why the gate cannot judge this target, or None (kept under its old name for the pages)."""
        return self.not_judgeable

    def gate_detail(self) -> str:
        """One line for the report's gate entry."""
        if self.not_judgeable:
            return self.not_judgeable
        label = METRIC_LABELS[self.task.primary_metric]
        text = (f"{label} predicting '{self.task.target}': {self.synthetic_model} trained on synthetic "
                f"{self.best_tstr:.3f} ({len(self.seeds)} seeds)")
        if self.matched_trtr is not None:
            text += (f" vs {self.reference_model} on real samples of {self.matched_rows} rows {self.matched_trtr.mean:.3f} "
                     f"(± {self.matched_trtr.std:.3f} over {len(self.matched_trtr.values)} samples)")
        text += (f"; {self.reference_model} on all real rows {self.primary.trtr.mean:.3f} (information); keeps "
                 f"{max(0.0, self.skill_retained_score):.0%} of the size-matched real skill above chance ({self.chance})")
        judged = self.judgement
        if judged is not None and judged.source == "null":
            text += (f"; real samples keep median {judged.null_median:.0%}, {rule_text(GATE_NAME, judged.bound)} at "
                     f"false-alarm rate {self.alpha:g} (tail probability {judged.tail_probability:.3f})")
        elif judged is not None:
            text += f"; too few real rows to resample: fixed threshold {rule_text(GATE_NAME, judged.bound)}"
        return text

    def gate_record(self) -> dict:
        """The gate's record with the Gate fields; a not-judgeable target passes with judgeable False."""
        judged = self.judgement
        if judged is None:
            return {"name": GATE_NAME, "value": float("nan"), "threshold": self.threshold, "passed": True,
                    "detail": self.gate_detail(), "null_median": None, "floor": None, "tail_probability": None,
                    "judgeable": False}
        return {"name": GATE_NAME, "value": judged.value, "threshold": judged.bound, "passed": judged.passed,
                "detail": self.gate_detail(), "null_median": judged.null_median,
                "floor": judged.bound if judged.source == "null" else None,
                "tail_probability": judged.tail_probability, "judgeable": True}

    def to_dict(self) -> dict:
        """The TSTR/TRTR part of the report's utility section."""
        record = self.gate_record()
        return {
            "target": self.task.target,
            "task": self.task.kind,
            "classes": list(self.task.classes),
            "primary_metric": self.task.primary_metric,
            "seeds": list(self.seeds),
            "rows": dict(self.rows),
            "features": list(self.task.features),
            "skipped": dict(self.task.skipped),
            "models": {
                model: {"estimator": self.estimators[model],
                        "metrics": {name: comparison.to_dict() for name, comparison in metrics.items()}}
                for model, metrics in self.models.items()
            },
            "reference_model": self.reference_model,
            "synthetic_model": self.synthetic_model,
            "skill_retained_score": self.skill_retained_score,
            "full_size_skill_retained_score": self.full_size_skill_retained,
            "trtr_matched_size": None if self.matched_trtr is None else {
                "rows": self.matched_rows,
                "sampling": "pairs of disjoint samples of the training rows (without replacement, at most half each)",
                "pairs": [list(pair) for pair in self.matched_pairs], "spread_one_sample": self.matched_spread,
                **self.matched_trtr.to_dict()},
            "score": self.gate_value,
            "threshold": record["threshold"],
            "null_median": record["null_median"],
            "floor": record["floor"],
            "tail_probability": record["tail_probability"],
            "judgeable": record["judgeable"],
            "passed": None if self.gate_value is None else bool(record["passed"]),
            "not_applicable": self.not_applicable,
        }


# ------------------------------------------------------------------------------------- blend design


@dataclass(frozen=True)
class BlendPlan:
    """One training mix of a blend sweep: how many real and synthetic rows it holds."""

    family: str  # "replace" | "augment"
    setting: float  # replace: synthetic share of the mix; augment: synthetic rows per real row
    n_real: int
    n_synthetic: int

    @property
    def synthetic_share(self) -> float:
        """Synthetic rows / all rows of the mix."""
        return self.n_synthetic / (self.n_real + self.n_synthetic)

    @property
    def synthetic_to_real_ratio(self) -> float | None:
        """Synthetic rows per real row (None for a synthetic-only mix)."""
        return self.n_synthetic / self.n_real if self.n_real else None


@dataclass(frozen=True)
class BlendDesign:
    """The mixes a blend sweep trains on; R = real training rows, S = synthetic rows available.

    replace (`synthetic_shares`, each in [0, 1]): the mix keeps the real training size R and a share s of
        it is synthetic: n_synthetic = round(s * R), n_real = R - n_synthetic. s = 0 is all real rows (TRTR
        exactly); s = 1 is synthetic only (TSTR exactly when S == R, else R of the S synthetic rows).
    augment (`augment_ratios`, each > 0): all R real rows plus round(r * R) synthetic rows, so r = 1 doubles
        the training set with synthetic rows.

    Rows are drawn without replacement. For seed k, the real and the synthetic rows are each permuted once
    and every mix takes a prefix of each permutation (kept in table order): mixes are nested, so points
    differ by the rows added, not by a fresh draw (common random numbers), and a mix holding every row is
    the table itself. A mix that needs more synthetic rows than S is skipped, with the reason reported.
    """

    synthetic_shares: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    augment_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)

    def __post_init__(self) -> None:
        if any(not 0.0 <= s <= 1.0 for s in self.synthetic_shares):
            raise UsageError(f"synthetic shares must lie in [0, 1], got {list(self.synthetic_shares)}")
        if any(not r > 0.0 for r in self.augment_ratios):
            raise UsageError(f"augment ratios must be above 0, got {list(self.augment_ratios)}")

    def plan(self, n_real: int, n_synthetic: int) -> tuple[list[BlendPlan], list[dict]]:
        """The feasible mixes in order (replace by share, then augment by ratio), and the skipped ones."""
        wanted = [("replace", float(s), n_real - round(s * n_real), round(s * n_real))
                  for s in sorted(set(self.synthetic_shares))]
        wanted += [("augment", float(r), n_real, round(r * n_real)) for r in sorted(set(self.augment_ratios))]
        plans, skipped = [], []
        for family, setting, rows_real, rows_synthetic in wanted:
            if rows_synthetic > n_synthetic:
                skipped.append({"family": family, "setting": setting, "reason": (
                    f"needs {rows_synthetic} synthetic rows, the synthetic table has {n_synthetic}")})
            elif rows_real + rows_synthetic > 0:
                plans.append(BlendPlan(family, setting, rows_real, rows_synthetic))
        return plans, skipped

    def to_dict(self) -> dict:
        """The design as given."""
        return {"synthetic_shares": list(self.synthetic_shares), "augment_ratios": list(self.augment_ratios)}


@dataclass
class BlendPoint:
    """One mix of the sweep with its holdout score over seeds."""

    plan: BlendPlan
    score: Spread
    best: bool = False

    def to_dict(self) -> dict:
        """family, setting, row counts, shares, score spread and the best mark."""
        return {"family": self.plan.family, "setting": self.plan.setting,
                "n_real": self.plan.n_real, "n_synthetic": self.plan.n_synthetic,
                "synthetic_share": self.plan.synthetic_share,
                "synthetic_to_real_ratio": self.plan.synthetic_to_real_ratio,
                **self.score.to_dict(), "best": self.best}


@dataclass
class BlendSweep:
    """Holdout score of every designed mix of real and synthetic training rows; the best is marked."""

    design: BlendDesign
    model: str
    metric: str  # the task's primary metric, higher is better
    seeds: list[int]
    points: list[BlendPoint]
    skipped: list[dict] = field(default_factory=list)

    @property
    def best(self) -> BlendPoint:
        """The point with the highest mean score (first in design order on a tie: fewer synthetic rows)."""
        return next(p for p in self.points if p.best)

    @property
    def real_only(self) -> BlendPoint | None:
        """The replace point with share 0 (TRTR), if designed."""
        return next((p for p in self.points if p.plan.n_synthetic == 0), None)

    def to_dict(self) -> dict:
        """The blend_sweep part of the report's utility section."""
        real_only = self.real_only
        return {
            "model": self.model, "metric": self.metric, "greater_is_better": True, "seeds": list(self.seeds),
            "design": self.design.to_dict(),
            "points": [p.to_dict() for p in self.points],
            "best_index": self.points.index(self.best),
            "best_gain_over_real_only": None if real_only is None else self.best.score.mean - real_only.score.mean,
            "skipped_points": list(self.skipped),
        }


@dataclass
class ImportanceAgreement:
    """Permutation importance on the holdout of the real- and the synthetic-trained model, and their agreement."""

    model: str
    metric: str  # importance = mean drop of this metric when the feature is shuffled; higher = more important
    seed: int
    n_repeats: int
    features: list[str]
    real: list[float]
    synthetic: list[float]
    real_std: list[float]
    synthetic_std: list[float]

    @property
    def spearman_correlation(self) -> float:
        """Spearman rank correlation of the two importance vectors, in [-1, 1]; 0 if either is constant."""
        if len(self.features) < 2 or np.ptp(self.real) == 0 or np.ptp(self.synthetic) == 0:
            return 0.0
        return float(spearmanr(self.real, self.synthetic).statistic)

    @property
    def agreement_score(self) -> float:
        """The Spearman correlation clipped to [0, 1]."""
        return max(0.0, self.spearman_correlation)

    def to_dict(self) -> dict:
        """Per-feature importances of both models (for a side-by-side chart) and the agreement."""
        return {
            "model": self.model, "metric": self.metric, "seed": self.seed, "n_repeats": self.n_repeats,
            "features": [
                {"feature": f, "real": r, "synthetic": s, "real_std": rs, "synthetic_std": ss}
                for f, r, s, rs, ss in zip(self.features, self.real, self.synthetic, self.real_std, self.synthetic_std)
            ],
            "spearman_correlation": self.spearman_correlation,
            "agreement_score": self.agreement_score,
        }


@dataclass
class UtilityResult:
    """The whole utility evaluation: TSTR vs TRTR, the blend sweep and the importance agreement."""

    score: UtilityScore
    blend: BlendSweep | None = None
    importance: ImportanceAgreement | None = None

    @property
    def gate_value(self) -> float | None:
        """The utility gate's value (see UtilityScore.gate_value)."""
        return self.score.gate_value

    def to_dict(self) -> dict:
        """The report's "utility" section."""
        section = self.score.to_dict()
        section["blend_sweep"] = self.blend.to_dict() if self.blend else {"skipped": "not requested"}
        section["feature_importance"] = self.importance.to_dict() if self.importance else {"skipped": "not requested"}
        return section


def utility_gate_value(result: UtilityResult | UtilityScore) -> float | None:
    """The utility gate's value in [0, 1] (higher is better), or None when the gate does not apply."""
    return result.gate_value


def utility_gate(result: UtilityResult | UtilityScore, threshold: float | None = None) -> dict | None:
    """The gate's record (see UtilityScore.gate_record; `threshold` replaces the fixed fallback), or None when
    the target is not judgeable (the pages then say why; the report keeps the not-judgeable gate)."""
    score = result.score if isinstance(result, UtilityResult) else result
    if threshold is not None:
        score = replace(score, threshold=float(threshold))
    if score.gate_value is None:
        return None
    return score.gate_record()


def utility_gate_record(result: UtilityResult | UtilityScore, threshold: float | None = None, *,
                        alpha: float | None = None, tolerance: float | None = None) -> dict:
    """The gate's record under the policy's fallback threshold, false-alarm rate and tolerance; always a record
    (a not-judgeable target: passed, judgeable False, detail says why)."""
    score = result.score if isinstance(result, UtilityResult) else result
    changes = {k: float(v) for k, v in (("threshold", threshold), ("alpha", alpha), ("tolerance", tolerance))
               if v is not None}
    return replace(score, **changes).gate_record()


# ------------------------------------------------------------------------------------------ running


class _Steps:
    """Reports progress over a known number of steps, mapped onto [start, end] of the caller's bar."""

    def __init__(self, progress: Progress | None, total: int, start: float = 0.0, end: float = 1.0):
        self.progress, self.total, self.start, self.end, self.done = progress, max(total, 1), start, end, 0

    def step(self, message: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.start + (self.end - self.start) * min(self.done / self.total, 1.0), message)


@dataclass
class _Data:
    """Tables prepared once for every run: features, target labels, and memoized fitted runs."""

    task: UtilityTask
    X_real: pd.DataFrame
    y_real: np.ndarray
    X_synthetic: pd.DataFrame
    y_synthetic: np.ndarray
    X_holdout: pd.DataFrame
    y_holdout: np.ndarray
    rows: dict[str, int]
    runs: dict = field(default_factory=dict)  # (model, seed, n_real, n_synthetic) -> (pipeline, metrics)
    permutations: dict = field(default_factory=dict)  # seed -> (real order, synthetic order)
    real_side_fingerprint: object = None  # real_side_key(), computed once

    def rows_for(self, seed: int, n_real: int, n_synthetic: int) -> tuple[np.ndarray, np.ndarray]:
        """Row positions of a mix: prefixes of the seed's permutations, in table order."""
        if seed not in self.permutations:
            rng = np.random.default_rng(seed)
            self.permutations[seed] = (rng.permutation(len(self.X_real)), rng.permutation(len(self.X_synthetic)))
        real_order, synthetic_order = self.permutations[seed]
        return np.sort(real_order[:n_real]), np.sort(synthetic_order[:n_synthetic])

    def run(self, model: str, seed: int, n_real: int, n_synthetic: int) -> tuple[Pipeline, dict[str, float]]:
        """Fit the pipeline on a mix and score it on the holdout (memoized; real-only runs also across the
        synthetic tables of a shared_real_side() block)."""
        key = (model, seed, n_real, n_synthetic)
        if key not in self.runs:
            def fit_and_score():
                real_rows, synthetic_rows = self.rows_for(seed, n_real, n_synthetic)
                parts = [(self.X_real, self.y_real, real_rows), (self.X_synthetic, self.y_synthetic, synthetic_rows)]
                parts = [(X.iloc[rows], y[rows]) for X, y, rows in parts if len(rows)]
                X = parts[0][0] if len(parts) == 1 else pd.concat([p[0] for p in parts], ignore_index=True)
                y = np.concatenate([p[1] for p in parts])
                pipeline = self._fit(model, seed, X, y)
                return pipeline, score_predictions(pipeline, self.task, self.X_holdout, self.y_holdout)

            # the real rows' order for a seed does not depend on the synthetic table (rows_for)
            self.runs[key] = remember(("utility run", self.real_side_key(), key), fit_and_score) \
                if n_synthetic == 0 else fit_and_score()
        return self.runs[key]

    def run_subsample(self, model: str, seed: int, resample: int, n_rows: int, half: int) -> dict[str, float]:
        """Fit on one of two disjoint samples of n_rows real training rows (`half` 0 or 1 of resample k of
        `seed`, drawn without replacement) and score it on the holdout."""
        key = ("subsample", model, seed, resample, n_rows, half)
        if key not in self.runs:
            def fit_and_score():
                order = np.random.default_rng([seed, resample, 7919]).permutation(len(self.X_real))
                rows = np.sort(order[half * n_rows : (half + 1) * n_rows])
                pipeline = self._fit(model, seed + 2 * resample + half, self.X_real.iloc[rows], self.y_real[rows])
                return None, score_predictions(pipeline, self.task, self.X_holdout, self.y_holdout)

            self.runs[key] = remember(("utility run", self.real_side_key(), key), fit_and_score)
        return self.runs[key][1]

    def real_side_key(self):
        """What a real-only run depends on: the task and the real and holdout rows as prepared (categories
        included, as they shape the features)."""
        if self.real_side_fingerprint is None:
            self.real_side_fingerprint = fingerprint(
                (repr(self.task), self.X_real, self.y_real, self.X_holdout, self.y_holdout))
        return self.real_side_fingerprint

    def _fit(self, model: str, seed: int, X: pd.DataFrame, y: np.ndarray):
        if self.task.kind == "classification" and len(np.unique(y)) < 2:
            # A one-class training set (a collapsed synthetic target) predicts that class for every row.
            pipeline = Pipeline([("features", build_preprocessor(self.task.features)),
                                 ("model", DummyClassifier(strategy="prior"))])
        else:
            pipeline = build_pipeline(self.task, model, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence / constant-feature notices are not the reviewer's concern
            pipeline.fit(X, y)
        return pipeline


def _prepare(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, metadata: Metadata,
             target: str, encoded: EncodedTables | None = None) -> _Data:
    """Detect the task and split each table into features and target; rows without a target are dropped.
    Category features are read from `encoded` (the evaluation's encoded tables) when it covers these tables."""
    task = detect_task(train, holdout, metadata, target)
    if target not in synthetic.columns:
        raise UsageError(f"target column '{target}' is not a column of the synthetic table")
    missing_features = [c for c in task.features if c not in synthetic.columns or c not in holdout.columns]
    if missing_features:
        raise UsageError(f"feature column(s) {', '.join(map(repr, missing_features))} missing from a table")
    columns = list(task.features)
    prepared, rows, kept_rows = {}, {}, {}
    for role, frame in (("train", train), ("synthetic", synthetic), ("holdout", holdout)):
        keep = frame[target].notna().to_numpy()
        kept_rows[role] = keep
        if not keep.any():
            raise UsageError(f"target column '{target}' has no values in the {role} table")
        kept = frame.loc[keep]
        y = _labels(kept[target]) if task.kind == "classification" else kept[target].to_numpy(dtype=float)
        prepared[role] = (kept[columns].reset_index(drop=True), y)
        rows[role] = int(keep.sum())
        if role != "holdout":
            rows[f"{role}_dropped_missing_target"] = int((~keep).sum())
    shared = encoded is not None and encoded.covers({"real": train, "synthetic": synthetic, "holdout": holdout},
                                                    metadata)
    for column, sdtype in task.features.items():
        if sdtype in ("categorical", "boolean"):
            # Category dtype over the union of labels: real+synthetic mixes concatenate without losing it.
            if shared:
                categories = _shared_categories(encoded[column], kept_rows)
            else:
                text = {role: as_category_text(X[column]) for role, (X, _) in prepared.items()}
                union = pd.CategoricalDtype(sorted(set().union(*(t.cat.categories for t in text.values()))))
                categories = {role: t.astype(union) for role, t in text.items()}
            for role, (X, _) in prepared.items():
                X[column] = categories[role]
    return _Data(task, *prepared["train"], *prepared["synthetic"], *prepared["holdout"], rows=rows)


ROLE_OF = {"train": "real", "synthetic": "synthetic", "holdout": "holdout"}  # utility's role -> the encoding's


def _shared_categories(column: EncodedColumn, kept_rows: dict[str, np.ndarray]) -> dict[str, pd.Series]:
    """One category feature of every table (rows with a target) as 'category' dtype over the union of the text
    labels present, read from the shared encoding's codes: what as_category_text gives, without a text pass
    over every row."""
    codes = {role: column.codes[ROLE_OF[role]][keep].astype(np.int64) for role, keep in kept_rows.items()}
    text = [MISSING_CATEGORY if code == column.missing_code else str(label) for code, label in enumerate(column.labels)]
    present = np.unique(np.concatenate(list(codes.values())))
    union = pd.CategoricalDtype(sorted({text[c] for c in present}))
    position = np.array([union.categories.get_loc(t) if t in union.categories else -1 for t in text], dtype=np.int64)
    return {role: pd.Series(pd.Categorical.from_codes(position[c], dtype=union)) for role, c in codes.items()}


def _score(data: _Data, seeds: Sequence[int], models: Sequence[str], threshold: float, steps: _Steps,
           resamples: int = UTILITY_RESAMPLES, min_real_rows: int = int(CALIBRATION_DEFAULTS["min_real_rows"])
           ) -> UtilityScore:
    """TRTR (all real rows) and TSTR (all synthetic rows) for each model and seed, then the reference model
    trained on `resamples` real samples of the synthetic size (at most half the real rows) (the gate's null)."""
    n_real, n_synthetic = len(data.X_real), len(data.X_synthetic)
    results: dict[str, dict[str, MetricComparison]] = {}
    estimators = {}
    for model in models:
        trtr, tstr = [], []
        for seed in seeds:
            trtr.append(data.run(model, seed, n_real, 0)[1])
            steps.step(f"{model}: trained on real, seed {seed}")
            tstr.append(data.run(model, seed, 0, n_synthetic)[1])
            steps.step(f"{model}: trained on synthetic, seed {seed}")
        results[model] = {metric: MetricComparison(metric, Spread([r[metric] for r in trtr]),
                                                   Spread([r[metric] for r in tstr]))
                          for metric in data.task.metrics}
        estimators[model] = repr(build_pipeline(data.task, model, seeds[0])[-1])
    score = UtilityScore(task=data.task, seeds=list(seeds), models=results, estimators=estimators,
                         rows=dict(data.rows), threshold=threshold)
    if resamples >= 2 and n_real >= min_real_rows:
        metric, model = data.task.primary_metric, score.reference_model
        # Pairs of disjoint real samples of the synthetic size (at most half the real rows each): their
        # difference is a real-vs-real difference of two independent samples, the gate's null (UtilityScore.null).
        m = max(2, min(n_synthetic, n_real // 2))
        pairs = []
        for k in range(resamples):
            pairs.append(tuple(data.run_subsample(model, seeds[0], k, m, half)[metric] for half in (0, 1)))
            steps.step(f"{model}: trained on two real samples of the synthetic size ({k + 1} of {resamples})")
        score.matched_trtr = Spread([v for pair in pairs for v in pair])
        score.matched_pairs = pairs
        score.matched_rows = m
        if data.task.kind == "classification":
            score.holdout_class_counts = tuple(int((data.y_holdout == c).sum()) for c in data.task.classes)
    return score


def _sweep(data: _Data, design: BlendDesign, seeds: Sequence[int], model: str, steps: _Steps) -> BlendSweep:
    """Score every feasible mix of the design over the seeds and mark the best mean."""
    plans, skipped = design.plan(len(data.X_real), len(data.X_synthetic))
    metric = data.task.primary_metric
    points = []
    for plan in plans:
        values = []
        for seed in seeds:
            values.append(data.run(model, seed, plan.n_real, plan.n_synthetic)[1][metric])
            steps.step(f"blend {plan.family} {plan.setting:g}, seed {seed}")
        points.append(BlendPoint(plan, Spread(values)))
    if not points:
        raise UsageError("the blend design has no feasible point for these tables")
    points[int(np.argmax([p.score.mean for p in points]))].best = True
    return BlendSweep(design=design, model=model, metric=metric, seeds=list(seeds), points=points, skipped=skipped)


def _importance(data: _Data, seed: int, model: str, n_repeats: int, steps: _Steps) -> ImportanceAgreement:
    """Permutation importance of the real- and the synthetic-trained model on the holdout."""
    task, metric = data.task, data.task.primary_metric

    def scorer(pipeline, X, y) -> float:
        return score_predictions(pipeline, task, X, y, (metric,))[metric]

    importances = {}
    for role, (n_real, n_synthetic) in (("real", (len(data.X_real), 0)), ("synthetic", (0, len(data.X_synthetic)))):
        pipeline = data.run(model, seed, n_real, n_synthetic)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importances[role] = permutation_importance(
                pipeline, data.X_holdout, data.y_holdout, scoring=scorer, n_repeats=n_repeats, random_state=seed,
                max_samples=min(len(data.X_holdout), IMPORTANCE_MAX_ROWS), n_jobs=1)
        steps.step(f"feature importance, model trained on {role}")
    return ImportanceAgreement(
        model=model, metric=metric, seed=seed, n_repeats=n_repeats, features=list(task.features),
        real=[float(v) for v in importances["real"].importances_mean],
        synthetic=[float(v) for v in importances["synthetic"].importances_mean],
        real_std=[float(v) for v in importances["real"].importances_std],
        synthetic_std=[float(v) for v in importances["synthetic"].importances_std])


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise UsageError("give at least one seed")
    return seeds


# -------------------------------------------------------------------------------------- entry points


def utility_score(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, metadata: Metadata,
                  target: str, *, seeds: Sequence[int] = DEFAULT_SEEDS, models: Sequence[str] = MODELS,
                  threshold: float = UTILITY_FALLBACK, resamples: int = UTILITY_RESAMPLES,
                  progress: Progress | None = None) -> UtilityScore:
    """TSTR vs TRTR on the holdout for each model, metric and seed, and the size-matched TRTR resamples."""
    seeds = _check_seeds(seeds)
    data = _prepare(train, synthetic, holdout, metadata, target)
    with threadpool_limits(limits=NUM_THREADS):
        return _score(data, seeds, models, threshold, _Steps(progress, 2 * len(models) * len(seeds) + resamples),
                      resamples)


def blend_sweep(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, metadata: Metadata,
                target: str, *, design: BlendDesign = BlendDesign(), seeds: Sequence[int] = DEFAULT_SEEDS,
                model: str = PRIMARY_MODEL, progress: Progress | None = None) -> BlendSweep:
    """Holdout primary-metric score of each designed real+synthetic training mix, over seeds; best marked."""
    seeds = _check_seeds(seeds)
    data = _prepare(train, synthetic, holdout, metadata, target)
    plans, _ = design.plan(len(data.X_real), len(data.X_synthetic))
    with threadpool_limits(limits=NUM_THREADS):
        return _sweep(data, design, seeds, model, _Steps(progress, len(plans) * len(seeds)))


def feature_importance_agreement(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame,
                                 metadata: Metadata, target: str, *, seed: int = DEFAULT_SEEDS[0],
                                 model: str = PRIMARY_MODEL, n_repeats: int = IMPORTANCE_REPEATS,
                                 progress: Progress | None = None) -> ImportanceAgreement:
    """Permutation importances on the holdout of the real- and synthetic-trained model, and their Spearman."""
    data = _prepare(train, synthetic, holdout, metadata, target)
    with threadpool_limits(limits=NUM_THREADS):
        return _importance(data, int(seed), model, n_repeats, _Steps(progress, 2))


def evaluate_utility(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, metadata: Metadata,
                     target: str, *, seeds: Sequence[int] = DEFAULT_SEEDS, design: BlendDesign | None = BlendDesign(),
                     importance: bool = True, threshold: float = UTILITY_FALLBACK,
                     resamples: int = UTILITY_RESAMPLES, progress: Progress | None = None,
                     encoded: EncodedTables | None = None) -> UtilityResult:
    """TSTR vs TRTR, the blend sweep (design=None skips it) and importance agreement, sharing fitted runs
    (`encoded`: the evaluation's encoded tables, read for the category features)."""
    seeds = _check_seeds(seeds)
    data = _prepare(train, synthetic, holdout, metadata, target, encoded)
    plans = design.plan(len(data.X_real), len(data.X_synthetic))[0] if design is not None else []
    total = 2 * len(MODELS) * len(seeds) + resamples + len(plans) * len(seeds) + (2 if importance else 0)
    steps = _Steps(progress, total)
    with threadpool_limits(limits=NUM_THREADS):
        score = _score(data, seeds, MODELS, threshold, steps, resamples)
        blend = _sweep(data, design, seeds, PRIMARY_MODEL, steps) if design is not None else None
        agreement = _importance(data, seeds[0], PRIMARY_MODEL, IMPORTANCE_REPEATS, steps) if importance else None
    return UtilityResult(score=score, blend=blend, importance=agreement)
