"""`headstart push RUN REPO`: the run exported as a plain transformers folder (with its model card) and
uploaded to the Hugging Face Hub with huggingface_hub (one commit; the repository is created if missing).
The token comes from `--token-file`, `$HF_TOKEN` or huggingface_hub's own login, never from argv."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from headstart.errors import HeadstartError

__all__ = ["Pushed", "push_run"]


@dataclass
class Pushed:
    repo: str
    url: str
    files: list[str]


def push_run(run: str | Path, repo: str, *, private: bool = False, token: str | None = None,
             message: str | None = None) -> Pushed:
    import httpx
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from headstart.export.transformers_format import export_transformers

    if repo.count("/") != 1 or not all(repo.split("/")):
        raise HeadstartError(f"{repo!r} is not a hub repository id.", expected="OWNER/NAME, e.g. alice/spam-minilm",
                             found=repo, fix="pass the repository as OWNER/NAME")
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="headstart-push-") as tmp:
        folder = export_transformers(run, Path(tmp) / "model").folder
        files = sorted(p.name for p in folder.iterdir())
        try:
            url = api.create_repo(repo, private=private, exist_ok=True)
            api.upload_folder(repo_id=repo, folder_path=folder,
                              commit_message=message or f"headstart: {Path(run).name}")
        except (HfHubHTTPError, httpx.HTTPError, OSError) as exc:  # refused, offline, no such host
            raise HeadstartError(f"the hub refused the upload to {repo}.", expected="a repository you can write to "
                                 "and a token with write access", found=' '.join(str(exc).split())[:300],
                                 fix="log in with `hf auth login`, set $HF_TOKEN or pass --token-file") from None
    return Pushed(repo, str(url), files)
