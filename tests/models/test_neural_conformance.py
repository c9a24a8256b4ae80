"""The shared conformance suite for the neural models of the foundation (small, fast settings)."""

from tests.models.conformance import RecommenderConformance


class TestBPRConformance(RecommenderConformance):
    model_name = "bpr"
    config = {"factors": 16, "epochs": 60, "batch_size": 64, "lr": 0.02, "progress": False}


class TestNeuMFConformance(RecommenderConformance):
    model_name = "neumf"
    config = {"gmf_factors": 8, "mlp_factors": 8, "layers": (16, 8), "epochs": 40, "batch_size": 128, "lr": 0.01,
              "layer_norm": True, "dropout": 0.1, "progress": False}
