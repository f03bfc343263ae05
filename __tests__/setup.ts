// cdktf's jest matchers (toHaveResource, toHaveResourceWithProperties, ...). The terraform-backed ones
// (toBeValidTerraform, toPlanSuccessfully) are not used: terraform cannot download providers here.
import { Testing } from '../lib/cdktf/core';

Testing.setupJest();
