"""Tasks, host side only: spec -> instance. Specs (``task_specs/*.yaml``), the registry of families,
the task store of generated instances (with ground truth, never given to a kernel), selection and
statistics.

The task store lives under ``$KERNELGYM_HOME/tasks``: instances are generated deterministically from
the spec, the seed and the data set on first use.
"""

from kernelgym._package import resource_dir
from kernelgym.tasks.instance import Instance, Source, Split, TaskInfo, slug
from kernelgym.tasks.registry import (
    families,
    get_spec,
    spec_dirs,
    variant_name,
    variant_profile,
)
from kernelgym.tasks.selection import SourceSelector, parse_source_selectors, select
from kernelgym.tasks.spec import (
    Category,
    CategoryOverride,
    Draft,
    GeneratorFamily,
    GeneratorSpec,
    JsonlInstance,
    TaskSpec,
    TaskSpecError,
    load_spec,
    spec_errors,
)
from kernelgym.tasks.store import (
    category_names,
    clear_caches,
    generation_jobs,
    get_instance,
    instances,
    iter_specs_errors,
    map_families,
    store_path,
)

__all__ = [
    "Category", "CategoryOverride", "Draft", "GeneratorFamily", "GeneratorSpec", "Instance", "JsonlInstance",
    "Source", "SourceSelector", "Split", "TaskInfo", "TaskSpec", "TaskSpecError", "category_names", "clear_caches",
    "families", "generation_jobs", "get_instance", "get_spec", "instances", "iter_specs_errors", "load_spec",
    "map_families", "parse_source_selectors", "resource_dir", "select", "slug", "spec_dirs", "spec_errors",
    "store_path", "variant_name", "variant_profile",
]
