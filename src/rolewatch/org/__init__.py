"""Organization deployment: reading member accounts through their reader role, listing the organization's
accounts, and the organization report. The services (event, account, weekly fan-out) call these; the
modules hold no Lambda wiring."""
