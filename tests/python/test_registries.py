"""Every backend registry, looked up with a name it does not have, names the var to set and
every valid name, the optional (LLM) backends included: their factories import openai lazily,
but are registered whether or not it is installed."""

import pytest

from kura_dbt.clustering import CLUSTERERS
from kura_dbt.embeddings import EMBEDDERS
from kura_dbt.labels import LABELLERS
from kura_dbt.projection import PROJECTORS
from kura_dbt.settings import Settings
from kura_dbt.summaries import SUMMARISERS


@pytest.mark.parametrize(
    ("registry", "var", "valid"),
    [
        (SUMMARISERS, "kura__summariser", ["cortex", "local", "openai"]),
        (EMBEDDERS, "kura__embedder", ["cortex", "local", "openai"]),
        (CLUSTERERS, "kura__clusterer", ["hdbscan", "kmeans", "minibatch_kmeans"]),
        (LABELLERS, "kura__labeller", ["cortex", "local", "openai"]),
        (PROJECTORS, "kura__projector", ["pca", "umap"]),
    ],
    ids=["summariser", "embedder", "clusterer", "labeller", "projector"],
)
def test_an_unknown_backend_lists_every_valid_name(registry, var, valid):
    with pytest.raises(ValueError) as error:
        registry.build("gpt", Settings())
    message = str(error.value)
    assert f"unknown {registry.kind} 'gpt' (var {var})" in message
    assert message.endswith("valid names: " + ", ".join(valid))
    assert registry.names() == valid
