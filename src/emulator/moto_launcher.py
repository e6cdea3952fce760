"""Starts Moto's server for lockdrill, with the account ids that a drill's world names.

Moto gives each account made by organizations:CreateAccount a random id, but a world names its
accounts. lockdrill therefore creates each account with the tag `lockdrill:account-id` set to
the id it wants, and this launcher makes Moto use that id. Accounts created without the tag
still get random ids, and nothing else in Moto changes. Arguments go to moto_server unchanged.
"""

import sys
import threading

import moto.organizations.models as organization_models
import moto.organizations.utils as organization_utils
from moto.server import main

ACCOUNT_ID_TAG = "lockdrill:account-id"

_wanted = threading.local()
_random_account_id = organization_utils.make_random_account_id
_create_account = organization_models.FakeAccount.__init__


def _account_id():
    wanted = getattr(_wanted, "account_id", None)
    return wanted if wanted else _random_account_id()


def _create_account_with_wanted_id(self, organization, **kwargs):
    tags = {tag.get("Key"): tag.get("Value") for tag in kwargs.get("Tags", [])}
    wanted = tags.get(ACCOUNT_ID_TAG, "")
    _wanted.account_id = wanted if len(wanted) == 12 and wanted.isdigit() else None
    try:
        _create_account(self, organization, **kwargs)
    finally:
        _wanted.account_id = None


organization_utils.make_random_account_id = _account_id
organization_models.FakeAccount.__init__ = _create_account_with_wanted_id

if __name__ == "__main__":
    main(sys.argv[1:])
