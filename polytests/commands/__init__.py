"""The commands of ``polytests`` (hunt, show, calibrate, model-card ...): each reads the same
:class:`~polytests.settings.Settings` as the plugin."""
