/* test_hub.c — the Hub client's checks on names that come from the Hub or a
 * user (the transfers themselves are tested against a fake Hub in
 * tests/cli/test_download.sh). */
#include <string.h>

#include "hub/hub.h"
#include "test.h"

I4_TEST(hub_repo_names) {
    CHECK(i4_hub_valid_repo("ideogram-ai/ideogram-4-fp8"));
    CHECK(i4_hub_valid_repo("RazzzHF/Realism_Engine_Ideogram_4"));
    CHECK(!i4_hub_valid_repo(NULL));
    CHECK(!i4_hub_valid_repo("noslash"));
    CHECK(!i4_hub_valid_repo("a/b/c"));
    CHECK(!i4_hub_valid_repo("../x"));
    CHECK(!i4_hub_valid_repo("a/.."));
    CHECK(!i4_hub_valid_repo("a/.hidden"));
    CHECK(!i4_hub_valid_repo("/abs"));
    CHECK(!i4_hub_valid_repo("a/b c"));
    CHECK(!i4_hub_valid_repo("a/b%2f"));
}

I4_TEST(hub_revisions) {
    CHECK(i4_hub_valid_revision("main"));
    CHECK(i4_hub_valid_revision("ee79a7237b519f1402ceacf952f30c8a31ec5073"));
    CHECK(i4_hub_valid_revision("v1.0"));
    CHECK(!i4_hub_valid_revision(""));
    CHECK(!i4_hub_valid_revision("a/b"));
    CHECK(!i4_hub_valid_revision(".."));
    CHECK(!i4_hub_valid_revision("x..y"));
    CHECK(!i4_hub_valid_revision("main\n"));
}

I4_TEST(hub_repo_paths_cannot_escape) {
    CHECK(i4_hub_valid_repo_path("model_index.json"));
    CHECK(i4_hub_valid_repo_path("transformer/diffusion_pytorch_model-00001-of-00003.safetensors"));
    CHECK(i4_hub_valid_repo_path("a b/c (1).json"));
    CHECK(!i4_hub_valid_repo_path(""));
    CHECK(!i4_hub_valid_repo_path("/etc/passwd"));
    CHECK(!i4_hub_valid_repo_path("../x"));
    CHECK(!i4_hub_valid_repo_path("a/../../x"));
    CHECK(!i4_hub_valid_repo_path("a/./x"));
    CHECK(!i4_hub_valid_repo_path("a//x"));
    CHECK(!i4_hub_valid_repo_path("a/"));
    CHECK(!i4_hub_valid_repo_path("a\\..\\x"));
    CHECK(!i4_hub_valid_repo_path("C:x"));
    CHECK(!i4_hub_valid_repo_path("a\nb"));
    CHECK(!i4_hub_valid_repo_path("a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r"));
    char longp[1100];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    CHECK(!i4_hub_valid_repo_path(longp));
}
