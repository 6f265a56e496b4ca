"""Notices (通知書): typed data → HTML → PDF. Pure: no database, no HTTP, no clock.

Call `notices.render.render_notice(kind, data, issuer)`; the kinds are in `notices.catalogue.CATALOGUE`.
"""
