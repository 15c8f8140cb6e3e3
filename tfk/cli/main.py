"""Process entry point: build the command tree, run it, map errors to exit codes."""

from __future__ import annotations

import os
import sys
import traceback

from tfk.errors import ExitCode, TfkError


def _debug_requested(argv: list[str]) -> bool:
    from tfk.paths import debug

    return "--debug" in argv or debug()


def report_error(err: TfkError) -> None:
    from tfk.console import err_console

    con = err_console()
    con.print(f"error: {err.message}", markup=False, highlight=False)
    if err.hint:
        con.print(f"hint: {err.hint}", markup=False, highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Run ``tfk`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    import click

    from tfk.cli.app import build_command

    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    if debug:
        os.environ["TFK_DEBUG"] = "1"
    try:
        rv = build_command().main(args=args, prog_name="tfk", standalone_mode=False)
        return int(rv) if isinstance(rv, int) else 0
    except TfkError as err:
        if debug:
            traceback.print_exc()
        report_error(err)
        return int(err.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.USAGE) if exc.exit_code == 2 else int(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        from tfk.console import err_console

        err_console().print("interrupted; run the same command again to resume", markup=False)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.OK)
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
        from tfk.console import err_console

        if debug:
            traceback.print_exc()
        code = ExitCode.PLUGIN_CRASH if getattr(exc, "_tfk_plugin", None) else ExitCode.INTERNAL
        where = f"plugin '{exc._tfk_plugin}'" if code == ExitCode.PLUGIN_CRASH else "tfk"  # type: ignore[attr-defined]
        msg = " ".join(str(exc).split()) or type(exc).__name__
        err_console().print(
            f"error: unexpected error in {where}: {type(exc).__name__}: {msg}", markup=False, highlight=False
        )
        err_console().print("hint: re-run with --debug for the traceback and report it", markup=False)
        return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
