"""The registry: plugin discovery, fault-isolated loading, per-model dispatch, and the artifact table.

(Not to be confused with :mod:`tfk.plugin`, the public API plugin authors import.)

Plugins come from the entry-point group ``tfk.plugins`` (entry-point name = model name) and, for
development and tests, from ``TFK_PLUGIN_MODULES="name=package.module,..."``. Each is imported and
registered inside its own guard: a plugin that raises is recorded as ``broken`` with the reason, one
that raises :class:`tfk.errors.PluginUnavailable` (or whose ``tfk_available`` returns a reason) as
``unavailable``, and nothing else is affected. ``TFK_DISABLE_PLUGINS=a,b`` blocks plugins by name;
``TFK_LOAD_PLUGINS=a,b`` loads only those (an empty value loads none).

The core toolboxes declare their shared artifacts the same way: a module with a ``tfk_artifacts`` hook,
registered under the entry-point group ``tfk.toolboxes`` (tfk's own are listed in :data:`TOOLBOXES`).
The registry collects every declaration and hands the table to the weights store
(:func:`tfk.weights.catalog.set_declared`); the store never looks for plugins itself.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfk import errors
from tfk.hookspecs import HOOK_FOR_STAGE, PROJECT, VERBS

if TYPE_CHECKING:
    import pluggy

    from tfk.plugin import ModelInfo, StageContext
    from tfk.weights.artifact import Artifact

GROUP = "tfk.plugins"
TOOLBOX_GROUP = "tfk.toolboxes"

#: tfk's own toolboxes that declare artifacts (also declared in the group ``tfk.toolboxes``)
TOOLBOXES: dict[str, str] = {
    "audio": "tfk.audio.artifacts",
    "face": "tfk.face.artifacts",
    "metrics": "tfk.metrics.artifacts",
    "tdmm": "tfk.tdmm.artifacts",
    "nerfprep": "tfk.nerfprep.artifacts",
}

#: official models and the distribution that provides each
OFFICIAL: dict[str, str] = {
    "lawdnet": "tfk-lawdnet",
    "ernerf": "tfk-ernerf",
    "dfrf": "tfk-dfrf",
    "styleheat": "tfk-styleheat",
    "phadtf": "tfk-phadtf",
}


@dataclass
class LoadedPlugin:
    """One plugin as loaded (or not) in this process."""

    name: str
    status: str  # ok | broken | unavailable | disabled
    reason: str = ""
    module: Any = None
    dist: str | None = None
    version: str | None = None
    origin: str = "entry-point"
    info: ModelInfo | None = None
    stages: tuple[str, ...] = ()
    artifacts: list[Artifact] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _split_env(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [p.strip() for p in raw.split(",") if p.strip()]


def _describe_exc(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


class Registry:
    """The loaded plugins of this process and the pluggy manager that holds them."""

    def __init__(self) -> None:
        import pluggy

        from tfk import hookspecs

        self.pm: pluggy.PluginManager = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, LoadedPlugin] = {}
        self.artifacts: dict[str, Artifact] = {}
        self.warnings: list[str] = []

    # -- loading ---------------------------------------------------------------------------
    def _candidates(self) -> list[tuple[str, str, str | None, str | None, str]]:
        """(name, module path, dist name, dist version, origin) for every declared plugin."""
        from importlib.metadata import entry_points

        found: list[tuple[str, str, str | None, str | None, str]] = []
        for ep in entry_points(group=GROUP):
            dist = getattr(ep, "dist", None)
            found.append(
                (
                    ep.name,
                    ep.value,
                    dist.metadata["Name"] if dist else None,
                    dist.version if dist else None,
                    "entry-point",
                )
            )
        for item in _split_env("TFK_PLUGIN_MODULES") or []:
            name, _, mod = item.partition("=")
            if not mod:
                self.warnings.append(f"TFK_PLUGIN_MODULES entry {item!r} is not name=module; ignored")
                continue
            found.append((name.strip(), mod.strip(), None, None, "TFK_PLUGIN_MODULES"))
        return found

    def load(self) -> Registry:
        only = _split_env("TFK_LOAD_PLUGINS")
        disabled = set(_split_env("TFK_DISABLE_PLUGINS") or [])
        for name, modpath, dist, version, origin in self._candidates():
            if name in self.plugins:
                if self.plugins[name].module is not None and self.plugins[name].module.__name__ == modpath:
                    continue  # the same module declared twice (installed and named in TFK_PLUGIN_MODULES)
                self.warnings.append(
                    f"plugin name {name!r} from {dist or modpath} duplicates one already loaded; ignored"
                )
                continue
            if (only is not None and name not in only) or name in disabled:
                self.pm.set_blocked(name)
                self.plugins[name] = LoadedPlugin(
                    name,
                    "disabled",
                    "blocked by TFK_DISABLE_PLUGINS/TFK_LOAD_PLUGINS",
                    dist=dist,
                    version=version,
                    origin=origin,
                )
                continue
            self.plugins[name] = self._load_one(name, modpath, dist, version, origin)
        self._load_toolboxes()
        from tfk.weights import catalog

        catalog.set_declared(self.artifacts.values())
        return self

    def _load_toolboxes(self) -> None:
        """Shared artifact declarations of the toolboxes (a toolbox that is not installed is skipped)."""
        from importlib.metadata import entry_points

        mods = dict(TOOLBOXES)
        for ep in entry_points(group=TOOLBOX_GROUP):
            mods.setdefault(ep.name, ep.value)
        for name, modpath in mods.items():
            try:
                module = importlib.import_module(modpath)
            except ImportError as exc:
                if exc.name and (modpath == exc.name or modpath.startswith(exc.name + ".")):
                    continue  # the toolbox (an extra) is not installed
                self.warnings.append(f"toolbox {name}: cannot import {modpath}: {_describe_exc(exc)}")
                continue
            hook = getattr(module, "tfk_artifacts", None)
            if hook is None:
                self.warnings.append(f"toolbox {name}: {modpath} has no tfk_artifacts hook")
                continue
            for art in hook() or []:
                if art.namespace != "shared":
                    self.warnings.append(f"toolbox {name}: artifact {art.id} is not shared/; ignored")
                    continue
                self.artifacts.setdefault(art.id, art)

    def _load_one(self, name: str, modpath: str, dist: str | None, version: str | None, origin: str) -> LoadedPlugin:
        lp = LoadedPlugin(name, "ok", dist=dist, version=version, origin=origin)
        try:
            module = importlib.import_module(modpath.split(":")[0])
        except errors.PluginUnavailable as exc:
            lp.status, lp.reason = "unavailable", " ".join(str(exc).split())
            return lp
        except BaseException as exc:  # noqa: BLE001 - a plugin may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            lp.status, lp.reason = "broken", f"import failed: {_describe_exc(exc)}"
            return lp
        lp.module = module
        try:
            self.pm.register(module, name=name)
        except Exception as exc:  # pluggy validation errors and duplicate registrations
            lp.status, lp.reason = "broken", f"registration failed: {_describe_exc(exc)}"
            return lp
        try:
            lp.info = self._call(name, "tfk_model")
            if lp.info is None:
                raise TypeError("the plugin has no tfk_model hook")
            lp.version = lp.version or lp.info.version
            lp.stages = tuple(v for v in VERBS if self._implements(module, HOOK_FOR_STAGE[v]))
            reason = self._call(name, "tfk_available")
            if reason:
                lp.status, lp.reason = "unavailable", " ".join(str(reason).split())
            for art in self._call(name, "tfk_artifacts", many=True):
                self._add_artifact(name, art)
                lp.artifacts.append(art)
        except errors.PluginUnavailable as exc:
            lp.status, lp.reason = "unavailable", " ".join(str(exc).split())
        except Exception as exc:
            lp.status, lp.reason = "broken", f"declaration failed: {_describe_exc(exc)}"
            self.pm.unregister(module)
        return lp

    def _add_artifact(self, plugin: str, art: Artifact) -> None:
        if art.namespace not in (plugin, "shared"):
            raise ValueError(f"artifact id {art.id!r} must start with '{plugin}/' or 'shared/'")
        if art.id in self.artifacts and self.artifacts[art.id] != art:
            self.warnings.append(f"artifact {art.id} declared twice with different contents; keeping the first")
            return
        self.artifacts.setdefault(art.id, art)

    def _implements(self, module: Any, hook_name: str) -> bool:
        hook = getattr(self.pm.hook, hook_name)
        return any(impl.plugin is module for impl in hook.get_hookimpls())

    def _call(self, name: str, hook_name: str, many: bool = False, **kwargs: Any) -> Any:
        """Call ``hook_name`` on the plugin registered as ``name`` only."""
        module = self.pm.get_plugin(name)
        others = [p for n, p in self.pm.list_name_plugin() if n != name and p is not None]
        caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
        result = caller(**kwargs)
        if many:
            out: list[Any] = []
            for part in result or []:
                out.extend(part or [])
            return out
        del module
        return result

    # -- lookup and dispatch ---------------------------------------------------------------
    def get(self, name: str) -> LoadedPlugin:
        """The usable plugin ``name`` or a typed error saying why not."""
        lp = self.plugins.get(name)
        if lp is None:
            if name in OFFICIAL:
                raise errors.PluginNotInstalled(
                    f"model '{name}' needs the plugin package {OFFICIAL[name]}, which is not installed",
                    hint=f"pip install {OFFICIAL[name]}  (in a tfk checkout: pip install -e plugins/{OFFICIAL[name]})",
                )
            known = sorted(set(self.plugins) | set(OFFICIAL))
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            raise errors.UsageError(
                f"unknown model '{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""),
                hint="tfk models   lists the installed models",
            )
        if lp.status == "disabled":
            raise errors.PluginBroken(f"plugin '{name}' is disabled ({lp.reason})", hint="unset TFK_DISABLE_PLUGINS")
        if lp.status == "broken":
            raise errors.PluginBroken(f"plugin '{name}' is broken: {lp.reason}", hint=f"tfk doctor {name}")
        if lp.status == "unavailable":
            raise errors.Unavailable(f"plugin '{name}' is unavailable here: {lp.reason}", hint=f"tfk doctor {name}")
        return lp

    def stage(self, name: str, verb: str) -> LoadedPlugin:
        """The usable plugin ``name`` that implements ``verb``, or a typed error saying why not."""
        lp = self.get(name)
        if verb not in lp.stages:
            raise errors.StageNotImplemented(
                f"{name} does not implement {verb}",
                hint=f"{name} implements: {', '.join(lp.stages) or 'nothing'}",
            )
        return lp

    def dispatch(self, name: str, verb: str, ctx: StageContext, options: dict[str, Any]) -> Any:
        """Call ``verb``'s hook of model ``name`` and no other (the caller checked :meth:`stage`)."""
        return self._call(name, HOOK_FOR_STAGE[verb], ctx=ctx, options=options)

    def doctor_checks(self, name: str) -> list[Any]:
        return self._call(name, "tfk_doctor_checks", many=True)


_REGISTRY: Registry | None = None
_REGISTRY_KEY: tuple[str | None, ...] | None = None


def _env_key() -> tuple[str | None, ...]:
    return tuple(os.environ.get(k) for k in ("TFK_PLUGIN_MODULES", "TFK_LOAD_PLUGINS", "TFK_DISABLE_PLUGINS"))


def load_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, loaded on first use (and again when the plugin env vars change)."""
    global _REGISTRY, _REGISTRY_KEY
    key = _env_key()
    if refresh or _REGISTRY is None or key != _REGISTRY_KEY:
        _REGISTRY, _REGISTRY_KEY = Registry().load(), key
    return _REGISTRY
