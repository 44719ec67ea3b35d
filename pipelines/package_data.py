"""Where kubetfx's files that are not Python are, installed or in a checkout."""

from pathlib import Path

import kubetfx

# The kubetfx package's folder: site-packages/kubetfx when installed from a
# wheel, api/ in a checkout (setup.py maps the folders).
_PACKAGE = Path(kubetfx.__file__).resolve().parent


def kubernetes_dir() -> Path:
    """kubetfx's ``kubernetes/`` folder: its manifests (kustomize) and scripts.

    A wheel ships it as ``kubetfx/kubernetes``; a checkout (an editable
    install) has it beside ``api/``.
    """
    for folder in (_PACKAGE / "kubernetes", _PACKAGE.parent / "kubernetes"):
        if (folder / "serving" / "kustomization.yaml").is_file():
            return folder
    raise FileNotFoundError(
        f"kubetfx's kubernetes/ folder is missing beside {_PACKAGE}; reinstall kubetfx"
    )
