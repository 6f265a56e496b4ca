"""The staff web console: server-rendered Japanese pages on the API's own endpoints (api/console/bridge.py).

Procedures plug in with a task kind's form (api/console/task_forms.py `register`), a case type's panel and
clocks (api/console/case_panels.py `register`) and dashboard charts (api/console/charts.py `register`), each
from the procedure's console module, listed in api/console/routers.py.
"""
