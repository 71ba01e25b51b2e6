"""Clinical data of the cases: onset, ALSFRS-R, El Escorial, C9orf72 and survival.

Survival follows a Weibull proportional-hazards model: bulbar onset, later onset and male sex
raise the hazard, and so do (or lower it) the planted survival genes through `gene_risk`, the
per-patient linear predictor of their expression. ALSFRS-R at sampling falls with a decline rate
driven by the same factors with smaller clinical weights, so the clinical covariates predict
survival beyond ALSFRS-R. Censoring is independent exponential follow-up, scaled so that about
`censored_fraction` of the cases are censored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LOG_HR_BULBAR = 1.3
LOG_HR_ONSET_AGE_PER_10Y = 0.6
LOG_HR_MALE = 0.15
# Functional decline shares the hazard's drivers with smaller weights: bulbar onset and late
# onset shorten survival beyond what the ALSFRS-R slope shows (respiratory involvement).
DECLINE_BULBAR = 1.0
DECLINE_ONSET_AGE_PER_10Y = 0.45
DECLINE_SPREAD = 0.4  # log ALSFRS-R decline rate per unit of the decline predictor
MEDIAN_SURVIVAL_MONTHS = 36.0  # for a spinal-onset woman with onset at 60 and mean genes
WEIBULL_SHAPE = 1.3
CENSORED_FRACTION = 0.30
CLINICAL_COLUMNS = ("onset_segment", "onset_age", "alsfrs_r", "el_escorial", "c9orf72",
                    "survival_time", "survival_event")


def _censoring_scale(times: np.ndarray, draws: np.ndarray, fraction: float) -> float:
    """Scale c with mean(c * draws < times) == fraction, by bisection on the log scale."""
    lo, hi = -10.0, 15.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(np.exp(mid) * draws < times) > fraction:
            lo = mid
        else:
            hi = mid
    return float(np.exp((lo + hi) / 2))


def simulate_clinical(is_case: np.ndarray, male: np.ndarray, age: np.ndarray,
                      gene_risk: np.ndarray, rng: np.random.Generator
                      ) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per patient with the CLINICAL_COLUMNS (controls' values are missing), and each
    patient's true log hazard (the linear predictor of the Weibull model).

    age: age at sampling (years); gene_risk: log-hazard contribution of the survival genes.
    """
    n = len(is_case)
    bulbar = rng.random(n) < np.where(male, 0.25, 0.37)
    # Onset to sampling; bulbar onset is diagnosed sooner.
    delay_years = np.exp(rng.normal(np.log(np.where(bulbar, 0.8, 1.2)), 0.5, size=n))
    onset_age = np.round(age - delay_years, 1)
    common = LOG_HR_MALE * male + gene_risk
    eta = LOG_HR_BULBAR * bulbar + LOG_HR_ONSET_AGE_PER_10Y * (onset_age - 60) / 10 + common
    decline = DECLINE_BULBAR * bulbar + DECLINE_ONSET_AGE_PER_10Y * (onset_age - 60) / 10 + common
    scale = MEDIAN_SURVIVAL_MONTHS / np.log(2) ** (1 / WEIBULL_SHAPE)
    # Months from sampling to death or censoring; patients are sampled alive, so the time
    # from onset adds the diagnostic delay.
    event_time = scale * (-np.log(rng.random(n)) / np.exp(eta)) ** (1 / WEIBULL_SHAPE)
    follow_up = rng.exponential(1.0, size=n)
    censor_time = _censoring_scale(event_time[is_case], follow_up[is_case],
                                   CENSORED_FRACTION) * follow_up
    event = event_time <= censor_time
    time = np.round(12 * delay_years + np.minimum(event_time, censor_time), 1)

    # Faster functional decline goes with a worse prognosis.
    rate = 0.6 * np.exp(DECLINE_SPREAD * (decline - decline[is_case].mean())
                        + rng.normal(0, 0.4, size=n))
    alsfrs = np.clip(np.round(47 - rate * 12 * delay_years), 0, 48)
    df = pd.DataFrame({
        "onset_segment": np.where(bulbar, "bulbar", "spinal"),
        "onset_age": onset_age,
        "alsfrs_r": pd.array(alsfrs.astype(np.int64), dtype="Int64"),
        "el_escorial": rng.choice(["definite", "probable", "possible"], size=n,
                                  p=[0.3, 0.45, 0.25]),
        "c9orf72": np.where(rng.random(n) < 0.08, "positive", "negative"),
        "survival_time": time,
        "survival_event": pd.array(event.astype(np.int64), dtype="Int64"),
    })
    df.loc[~is_case, list(CLINICAL_COLUMNS)] = pd.NA
    return df, eta
