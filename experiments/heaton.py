"""Heaton, T81-558 Module 5, Parts 5.2-5.5, on jh-simple-dataset.csv (see shared/heaton-module5.md).

The file is fetched once from its public URL into the data cache; offline and uncached, these
experiments are skipped. Heaton's preprocessing (one-hot job and area, median-filled income,
z-scores of income, aspect, save_rate, subscriptions) is fitted on each training fold only.
"""
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from harness import Dataset, Experiment, Variant, standard_variants
from harness.data import cached_csv

JH_SIMPLE_URL = "https://data.heatonresearch.com/data/t81-558/jh-simple-dataset.csv"
SOURCE = "J. Heaton, T81-558 Applications of Deep Neural Networks, Module 5 (shared/heaton-module5.md)"


def jh_simple(data_dir, target: str) -> Dataset:
    """jh-simple-dataset.csv with `target` ('product' or 'age') split off; `id` dropped."""
    frame = cached_csv(JH_SIMPLE_URL, data_dir, na_values=["NA", "?"])
    task = "classification" if target == "product" else "regression"
    features = frame.drop(columns=["id", target])
    return Dataset(f"jh-simple-dataset ({target})", features, frame[target], task)


def heaton_preprocessor(target: str) -> ColumnTransformer:
    """Heaton's columns: one-hot job, area (and product when predicting age); income median-filled
    and z-scored; aspect, save_rate, subscriptions z-scored (and age when predicting product)."""
    categorical = ["job", "area"] + (["product"] if target == "age" else [])
    zscored = ["aspect", "save_rate", "subscriptions"] + (["age"] if target == "product" else [])
    return ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
            ("income", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["income"]),
            ("zscore", StandardScaler(), zscored),
        ],
        remainder="passthrough",
    )


class HeatonModule5(Experiment):
    abstract = True
    source = SOURCE
    target = "product"
    seed = 42

    def load_data(self, data_dir):
        return jh_simple(data_dir, self.target)

    def preprocessor(self, X):
        return heaton_preprocessor(self.target)


PART_5_4 = Variant(
    "Part 5.4: dropout 0.5 + L1 1e-4",
    settings={"layer_dropout": [0.5, 0.0], "layer_l1": [0.0, 1e-4]},
)


class HeatonProduct(HeatonModule5):
    name = "heaton-product"
    description = "Heaton 5.2-5.4: product (7 classes), 50-25 ReLU MLP, stratified 5-fold, 500 epochs without early stopping."
    in_default_suite = True
    target = "product"
    task = "classification"
    hidden_units = (50, 25)
    epochs = 500
    patience = None
    variants = (*standard_variants(), PART_5_4)

    def splitter(self):
        return StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)

    def source_results(self):
        return [
            {"what": "Part 5.2, overall out-of-fold accuracy", "reported": 0.667, "variant": "none", "stat": "mean"},
            {"what": "Part 5.3, L1 1e-4 (an activity penalty in the notebook; a kernel penalty here)",
             "reported": 0.6625, "variant": "L1 1e-4", "stat": "mean"},
            {"what": "Part 5.4, dropout 0.5 after layer 1, L1 1e-4 (activity there) on layer 2",
             "reported": 0.698, "variant": PART_5_4.name, "stat": "mean"},
        ]


class HeatonAge(HeatonModule5):
    name = "heaton-age"
    description = "Heaton 5.2: age regression in raw years, 20-10 ReLU MLP, 5-fold, 500 epochs without early stopping."
    in_default_suite = True
    target = "age"
    task = "regression"
    standardize_target = False
    hidden_units = (20, 10)
    epochs = 500
    patience = None

    def splitter(self):
        return KFold(n_splits=self.folds, shuffle=True, random_state=self.seed)

    def source_results(self):
        return [
            {"what": "Part 5.2, out-of-sample RMSE over all rows (pooled over the folds' test rows)",
             "reported": 0.678, "variant": "none", "stat": "pooled_rmse"},
        ]


def heaton_tuned(n_inputs: int, n_outputs: int):
    """Part 5.5's tuned network: PReLU layers, kernel L2 on the first, activity L2 after."""
    import keras
    from keras import layers, regularizers

    return keras.Sequential(
        [
            keras.Input((n_inputs,)),
            layers.Dense(100, kernel_regularizer=regularizers.L2(1e-4)),
            layers.PReLU(),
            layers.Dropout(0.5),
            layers.Dense(100, activity_regularizer=regularizers.L2(1e-4)),
            layers.PReLU(),
            layers.Dropout(0.5),
            layers.Dense(100, activity_regularizer=regularizers.L2(1e-4)),
            layers.PReLU(),
            layers.Dense(n_outputs, activation="softmax"),
        ],
        name="heaton_tuned",
    )


class HeatonBootstrapProduct(HeatonModule5):
    name = "heaton-bootstrap-product"
    description = "Heaton 5.5: product, 50 stratified shuffle splits, log loss, early stopping on the scored split."
    target = "product"
    task = "classification"
    score = "log_loss"
    protocol = "heaton"
    epochs = 1000
    patience = 25
    min_delta = 1e-3
    folds = 50
    variants = (Variant("none"), Variant("tuned (Part 5.5)", settings={"model": "heaton_tuned"}))

    def splitter(self):
        return StratifiedShuffleSplit(n_splits=self.folds, test_size=0.1, random_state=self.seed)

    def build_model(self, variant, n_inputs, n_outputs):
        if variant.settings.get("model") == "heaton_tuned":
            return heaton_tuned(n_inputs, n_outputs)
        return super().build_model(variant, n_inputs, n_outputs)

    def source_results(self):
        return [
            {"what": "Part 5.5, mean log loss over 50 splits", "reported": 0.6737, "variant": "none", "stat": "mean"},
            {"what": "Part 5.5, stdev", "reported": 0.0486, "variant": "none", "stat": "stdev"},
            {"what": "Part 5.5, mean epochs (Keras' stopped_epoch, 0 when never stopped)", "reported": 65,
             "variant": "none", "stat": "mean_stopped_epoch"},
            {"what": "Part 5.5, mean epochs, beside the epochs this run trained", "reported": 65,
             "variant": "none", "stat": "mean_epochs", "note": "stopped_epoch is 0-based and 0 when never stopped"},
            {"what": "Part 5.5 tuned, mean log loss over 100 splits, patience 100", "reported": 0.6496,
             "variant": "tuned (Part 5.5)", "stat": "mean", "note": "here 50 splits, patience 25"},
        ]


class HeatonBootstrapAge(HeatonModule5):
    name = "heaton-bootstrap-age"
    description = "Heaton 5.5: age regression, 50 shuffle splits, RMSE, early stopping on the scored split."
    target = "age"
    task = "regression"
    standardize_target = False
    hidden_units = (20, 10)
    protocol = "heaton"
    epochs = 1000
    patience = 5
    min_delta = 1e-3
    folds = 50
    variants = (Variant("none"),)

    def splitter(self):
        return ShuffleSplit(n_splits=self.folds, test_size=0.1, random_state=self.seed)

    def source_results(self):
        return [
            {"what": "Part 5.5, mean RMSE over 50 splits", "reported": 0.7446, "variant": "none", "stat": "mean"},
            {"what": "Part 5.5, stdev", "reported": 0.1844, "variant": "none", "stat": "stdev"},
            {"what": "Part 5.5, mean epochs (Keras' stopped_epoch, 0 when never stopped)", "reported": 116,
             "variant": "none", "stat": "mean_stopped_epoch"},
            {"what": "Part 5.5, mean epochs, beside the epochs this run trained", "reported": 116,
             "variant": "none", "stat": "mean_epochs", "note": "stopped_epoch is 0-based and 0 when never stopped"},
        ]
