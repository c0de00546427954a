"""The offline default suite: datasets that ship with scikit-learn, the nine standard variants."""
from harness import Experiment
from harness.data import sklearn_dataset


class Wine(Experiment):
    name = "wine"
    description = "Wine cultivars (178 rows, 13 features, 3 classes): accuracy of a 50-25 MLP under nine regularizers."
    task = "classification"
    in_default_suite = True
    epochs = 200

    def load_data(self, data_dir):
        return sklearn_dataset("wine")


class BreastCancer(Experiment):
    name = "breast-cancer"
    description = "Wisconsin breast cancer (569 rows, 30 features, 2 classes): accuracy of a 50-25 MLP under nine regularizers."
    task = "classification"
    in_default_suite = True
    epochs = 200

    def load_data(self, data_dir):
        return sklearn_dataset("breast_cancer")


class Diabetes(Experiment):
    name = "diabetes"
    description = "Diabetes progression (442 rows, 10 features): RMSE of a 50-25 MLP regressor under nine regularizers."
    task = "regression"
    in_default_suite = True
    epochs = 200

    def load_data(self, data_dir):
        return sklearn_dataset("diabetes")
