"""The web console (D10): the links manager, the Inbox and tickets, and the agent's health in a browser.

Server-side rendered pages (Starlette and Jinja2, served by uvicorn) that call the same core
functions as the command line; htmx only enhances them. ``create_app`` builds the ASGI app
for an :class:`agent.app.App`; ``server.WebServer`` serves it in a thread.
"""
