"""RadLens home: what the app does, the research-use notice, pages, models, device and settings."""

from core.ui import common, home

common.page_setup("Home")
home.render_intro()
common.research_notice()
home.render_pages()
home.render_models()
home.render_device()
home.render_settings()
