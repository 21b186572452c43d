"""The static files storage of a deployment (DEBUG off): WhiteNoise's compressed, hashed files, with
the ES modules' static imports pointing at hashed files too.

The console page names console.<hash>.js, cached for good; without this its imports would name the
unhashed shared modules, cached for a minute, and for that minute after a deploy a page could run
new code against old modules. (The widget's entry script has the name shops embed, unhashed, and
loads its modules unhashed alike: those stay in step with each other.)
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
