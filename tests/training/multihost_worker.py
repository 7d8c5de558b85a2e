"""One process of the two-process training test (tests/training/test_multihost.py); not a test itself.

Usage: python multihost_worker.py PROCESS_ID PORT WORKDIR OUT.npz
"""

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"  # one device per process

import jax  # noqa: E402

jax.config.update("jax_cpu_collectives_implementation", "gloo")


def main(process_id: int, port: int, workdir: str, out: str) -> None:
    jax.distributed.initialize(
        coordinator_address=f"localhost:{port}", num_processes=2, process_id=process_id
    )
    import numpy as np
    from multihost_config import CONFIG, NUM_IMAGES

    from corel_jax import data
    from corel_jax.training import train

    images = data.load("digits", "train").images[:NUM_IMAGES]  # every host passes all of them
    state, status = train.fit(CONFIG, workdir, images, progress=False)
    assert status["completed"], status
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(state.params)]
    np.savez(out, *leaves, step=np.asarray(state.step))
    jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
