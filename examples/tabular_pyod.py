"""Tabular data the PyOD way: estimators with fit / decision_function / predict / predict_proba.

Synthetic data in PyOD's style (inliers from a Gaussian, outliers uniform over a wider box), 10 % of
the training data contaminated; every detector is fitted on the unlabelled training set and judged on
a held-out test set by ROC AUC and average precision. The deep detectors train every seed side by
side in one compiled program (``n_seeds``) and average their scores.

    python examples/tabular_pyod.py                 # about a minute on a laptop CPU
    python examples/tabular_pyod.py --epochs 5      # quicker, less accurate
"""

import argparse

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ocnn_jax import DCAE, KDE, OCNN, OCSVM, DeepSVDD, IForest


def make_data(n_train: int, n_test: int, n_features: int, contamination: float, seed: int):
    """Inliers ~ N(0, I); outliers ~ uniform on [-6, 6]^d; labels 1 = outlier."""
    rng = np.random.default_rng(seed)

    def split(n):
        n_out = int(round(n * contamination))
        x = np.concatenate([rng.normal(0.0, 1.0, (n - n_out, n_features)), rng.uniform(-6, 6, (n_out, n_features))])
        y = np.r_[np.zeros(n - n_out, int), np.ones(n_out, int)]
        order = rng.permutation(n)
        return x[order].astype(np.float32), y[order]

    return split(n_train) + split(n_test)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=600)
    p.add_argument("--n-test", type=int, default=300)
    p.add_argument("--features", type=int, default=8)
    p.add_argument("--epochs", type=int, default=60, help="epochs of the deep detectors' main phase")
    p.add_argument("--seeds", type=int, default=3, help="runs averaged per deep detector")
    p.add_argument("--detectors", default="all", help="comma-separated names from the table, or 'all'")
    args = p.parse_args(argv)

    contamination = 0.1
    x_train, y_train, x_test, y_test = make_data(args.n_train, args.n_test, args.features, contamination, 0)
    deep = dict(contamination=contamination, n_seeds=args.seeds, epochs=args.epochs, batch_size=64, lr=1e-3)
    detectors = {
        "OCSVM": OCSVM(contamination=contamination),
        "IForest": IForest(contamination=contamination),
        "KDE": KDE(contamination=contamination),
        "DeepSVDD": DeepSVDD(**deep, pretrain_epochs=args.epochs),
        "DeepSVDD soft-boundary": DeepSVDD(objective="soft-boundary", **deep, pretrain_epochs=args.epochs),
        "OCNN": OCNN(**deep),
        "DCAE": DCAE(**deep),
    }
    if args.detectors != "all":
        detectors = {k: v for k, v in detectors.items() if k in args.detectors.split(",")}
    print(f"{'detector':>24} | {'ROC AUC':>7} | {'AP':>6} | {'flagged':>7} | mean P(outlier) of true outliers")
    results = {}
    for name, det in detectors.items():
        # Like any scikit-learn estimator: in a Pipeline (the detectors standardise on their own too).
        model = make_pipeline(StandardScaler(), det).fit(x_train)
        scores = model.decision_function(x_test)  # higher = more anomalous
        labels = model.predict(x_test)  # 0 inlier / 1 outlier at the contamination threshold
        proba = model.predict_proba(x_test, method="unify")[:, 1]
        conf = det.predict_confidence(model[0].transform(x_test))
        results[name] = (roc_auc_score(y_test, scores), average_precision_score(y_test, scores))
        print(f"{name:>24} | {results[name][0]:7.3f} | {results[name][1]:6.3f} | {labels.mean():7.1%} | "
              f"{proba[y_test == 1].mean():.2f} (confidence {conf.mean():.2f})")
    return results


if __name__ == "__main__":
    main()
