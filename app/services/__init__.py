"""The GUI's lowest layer: work off the GUI thread (jobs with progress and cancel, thumbnails) and the one door
to the model (:mod:`.model_service`). No widgets."""
