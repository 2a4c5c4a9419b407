"""The plugin's pages. The landing and help pages are the platform's shared ones for now."""

from omero_plugin_common.views import page_views

from .plugin import PLUGIN

index, help_page = page_views(PLUGIN)
