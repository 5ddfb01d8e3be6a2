"""Running the stack on one machine: the worker process, ``wirereport up``, its process group and live view."""
