"""
Loading model archives (`model.tar.gz`) without letting them write outside the folder they
are unpacked in.

allennlp's `load_archive` unpacks an archive with `tarfile.extractall` and no filter, so a
hostile archive could write anywhere the user can (`../` or absolute member names,
symbolic or hard links pointing out, device files). The plugin loads every archive through
`load_archive_safely` / `predictor_from_path` instead: every member is checked before
anything is written (only regular files and folders, relative names that stay inside the
folder), the archive is unpacked with `tarfile`'s `"data"` filter as well, and allennlp's
`load_archive` is then given the unpacked folder (its public API for serialization
directories), which is removed afterwards.

`install_default_tar_filter` (run when the plugin is imported) also makes the `"data"`
filter the default of every `tarfile` extraction in the process that names none, so
`allennlp predict`, `allennlp evaluate` and other allennlp commands that load an archive
with the plugin included refuse the same members (with `tarfile`'s own error).

What loading an archive still trusts: its `config.json` builds registered classes (the
components of allennlp and of the plugins imported), so only load archives whose config
you would run; the weights are read with torch's `weights_only` loader; the plugin's
`dictionary_features` indexer fetches no URL named in a config unless
`BIOMTL_ALLOW_REMOTE_FILES=1` is set (see `remote_files_allowed`).
"""
import os
import shutil
import tarfile
import tempfile
from typing import Any, Dict, Optional, Union
from urllib.parse import urlparse

from biomtl_allennlp.common.errors import InputFormatError

# Set to 1 to let a config (e.g. an archive's) name URLs that are fetched when it is loaded.
ALLOW_REMOTE_FILES_VARIABLE = "BIOMTL_ALLOW_REMOTE_FILES"


class UnsafeArchiveError(InputFormatError):
    """A model archive with a member that could land outside the folder it is unpacked in
    (or that is not a plain file or folder). Nothing of the archive has been written."""


def remote_files_allowed() -> bool:
    """Whether `$BIOMTL_ALLOW_REMOTE_FILES` allows fetching URLs named in configs."""
    return os.environ.get(ALLOW_REMOTE_FILES_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def is_remote(path: Union[str, "os.PathLike[str]"]) -> bool:
    """Whether `cached_path` would fetch `path` from the network (a URL such as `https://`,
    `s3://`, `gs://`, `hf://`), not read a local file."""
    scheme = urlparse(os.fspath(path)).scheme
    return len(scheme) > 1 and scheme != "file"  # one letter: a Windows drive


def check_remote_allowed(path: str, what: str) -> None:
    """Raises `InputFormatError` when `path` is a URL and `remote_files_allowed()` is false.
    `what` names the setting in the message (e.g. `dictionary_features: dictionary_path`)."""
    if is_remote(path) and not remote_files_allowed():
        raise InputFormatError(
            f"{what} is a URL; fetching URLs named in a config (an archive's config "
            f"included) is off: download the file and give its path, or set "
            f"{ALLOW_REMOTE_FILES_VARIABLE}=1 if you trust the config",
            path,
        )


def _member_problem(member: tarfile.TarInfo) -> Optional[str]:
    name = member.name
    if member.issym() or member.islnk():
        kind = "symbolic link" if member.issym() else "hard link"
        return f"member {name!r} is a {kind} to {member.linkname!r}"
    if not (member.isfile() or member.isdir()):
        return f"member {name!r} is not a regular file or folder (a device, FIFO or other special file)"
    if not name or name.startswith(("/", "\\")) or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        return f"member {name!r} has an absolute name"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return f"member {name!r} would be written outside the folder the archive is unpacked in"
    return None


def check_archive(archive_file: str) -> None:
    """
    Raises `UnsafeArchiveError` (naming the archive and the first bad member) unless every
    member of the tar archive `archive_file` is a regular file or folder with a relative
    name without `..` components; `InputFormatError` if it cannot be read as a tar archive.
    Reads the archive only.
    """
    try:
        with tarfile.open(archive_file, "r:*") as archive:
            for member in archive:
                problem = _member_problem(member)
                if problem is not None:
                    raise UnsafeArchiveError(
                        f"unsafe model archive, not loaded: {problem} (a model archive holds "
                        "only files and folders under relative names)",
                        archive_file,
                    )
    except tarfile.TarError as error:
        raise InputFormatError(f"not a readable model archive ({error})", archive_file) from None


def extract_archive(archive_file: str, destination: str) -> None:
    """
    Unpacks `archive_file` into the existing folder `destination` after `check_archive`
    accepted every member, with `tarfile`'s `"data"` filter (which also refuses links out of
    `destination`, special files and absolute names, and drops set-uid bits).
    """
    check_archive(archive_file)
    try:
        with tarfile.open(archive_file, "r:*") as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(destination, filter="data")
            else:  # Python < 3.11.4: the checks above alone
                archive.extractall(destination)
    except getattr(tarfile, "FilterError", ()) as error:  # the checks above should leave none
        raise UnsafeArchiveError(f"unsafe model archive, not loaded: {error}", archive_file) from None
    except tarfile.TarError as error:
        raise InputFormatError(f"not a readable model archive ({error})", archive_file) from None


def load_archive_safely(
    archive_file: Union[str, "os.PathLike[str]"],
    cuda_device: int = -1,
    overrides: Union[str, Dict[str, Any]] = "",
    weights_file: Optional[str] = None,
):
    """
    allennlp's `load_archive`, with the archive unpacked by `extract_archive` into a
    temporary folder (removed afterwards). A serialization folder is loaded as it is; a URL
    is fetched by `cached_path` as `load_archive` does.

    # Parameters

    archive_file : `str`
        A `model.tar.gz`, a serialization folder, or a URL of an archive.
    cuda_device : `int`, optional (default = `-1`)
    overrides : `Union[str, Dict[str, Any]]`, optional (default = `""`)
    weights_file : `str`, optional (default = `None`)
        As for `load_archive`.

    Raises `UnsafeArchiveError` for an archive with a bad member (nothing is written).
    """
    from allennlp.common.file_utils import cached_path
    from allennlp.models.archival import load_archive

    name = os.fspath(archive_file)
    try:
        resolved = cached_path(name)
    except FileNotFoundError:
        raise InputFormatError("model archive not found", name) from None
    if os.path.isdir(resolved):
        return load_archive(resolved, cuda_device=cuda_device, overrides=overrides, weights_file=weights_file)
    check_archive(resolved)
    folder = tempfile.mkdtemp(prefix="biomtl_archive_")
    try:
        extract_archive(resolved, folder)
        return load_archive(folder, cuda_device=cuda_device, overrides=overrides, weights_file=weights_file)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def predictor_from_path(
    archive_path: Union[str, "os.PathLike[str]"],
    predictor_name: Optional[str] = None,
    cuda_device: int = -1,
    dataset_reader_to_load: str = "validation",
    frozen: bool = True,
    overrides: Union[str, Dict[str, Any]] = "",
    **kwargs: Any,
):
    """allennlp's `Predictor.from_path` (same arguments; `kwargs` are the predictor's
    constructor arguments), loading the archive with `load_archive_safely`."""
    from allennlp.predictors import Predictor

    return Predictor.from_archive(
        load_archive_safely(archive_path, cuda_device=cuda_device, overrides=overrides),
        predictor_name,
        dataset_reader_to_load=dataset_reader_to_load,
        frozen=frozen,
        extra_args=kwargs,
    )


def install_default_tar_filter() -> None:
    """Makes `tarfile`'s `"data"` filter the default of extractions that name no filter
    (`tarfile.TarFile.extraction_filter`, the standard library's switch for this), unless
    a default was already chosen. Covers allennlp's own `load_archive` (`allennlp predict`,
    `allennlp evaluate`, ...) once the plugin is imported."""
    if getattr(tarfile, "data_filter", None) is None:  # Python without extraction filters
        return
    if getattr(tarfile.TarFile, "extraction_filter", None) is None:
        tarfile.TarFile.extraction_filter = staticmethod(tarfile.data_filter)
