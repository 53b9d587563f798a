"""`aiwf sbom WORKFLOW_ID`: print the CycloneDX SBOM of a workflow revision, as the API serves it."""

from __future__ import annotations

import argparse
import sys

from infra.cli.serving import open_pool
from infra.runtime import open_infrastructure
from infra.settings import Settings
from projections import queries


async def show(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 with the document on stdout; 1 when there is none (yet); 2 on bad input."""
    if args.revision is not None and args.revision < 1:
        print("aiwf: --revision must be 1 or more", file=sys.stderr)
        return 2
    async with open_infrastructure(settings) as infra, open_pool(infra) as pool:
        lookup = await queries.get_sbom(pool, args.tenant, args.workflow_id, args.revision)
    if lookup is None:
        print(f"aiwf: tenant {args.tenant!r} has no workflow {args.workflow_id!r}", file=sys.stderr)
        return 1
    if lookup.revision not in lookup.revisions:
        print(f"aiwf: workflow {args.workflow_id} has no revision {lookup.revision}", file=sys.stderr)
        return 1
    if lookup.sbom is None:
        print(
            f"aiwf: the SBOM of revision {lookup.revision} is not built yet "
            "(the sbom projector has not folded the model decisions it cites); retry shortly",
            file=sys.stderr,
        )
        return 1
    sys.stdout.write(lookup.sbom.document)
    return 0
