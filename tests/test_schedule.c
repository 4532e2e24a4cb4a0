/* test_schedule.c — the noise schedules equal diffusers' (betas and alpha-bar from PyTorch, bit for
 * bit where the arithmetic is pure IEEE), and have the properties the lessons rely on. */
#include "testutil.h"
#include "base/err.h"
#include "diffusion/schedule.h"
#include <math.h>
#include <string.h>

#include "golden/schedule_golden.h"

static void matches_diffusers(void **state) {
    (void)state;
    for (size_t g = 0; g < sizeof golden_scheds / sizeof golden_scheds[0]; g++) {
        const golden_sched *gs = &golden_scheds[g];
        dn_sched s;
        assert_int_equal(dn_sched_init(&s, gs->kind, gs->T, gs->start, gs->end), 0);
        for (int k = 0; k < gs->count; k++) {
            int t = gs->t[k];
            if (gs->kind == DN_BETA_COSINE) {
                /* cos() comes from the C library: allow 2 ulp, though glibc matches exactly */
                tu_assert_close("cosine beta", t, (double)s.betas[t], (double)gs->beta[k], 0, 2.4e-7);
                tu_assert_close("cosine abar", t, (double)s.alphas_cumprod[t], (double)gs->abar[k], 0, 2.4e-7);
            } else {
                /* pure IEEE float arithmetic (torch.linspace's kernel, double cumprod): exact */
                if (s.betas[t] != gs->beta[k] || s.alphas_cumprod[t] != gs->abar[k])
                    fail_msg("%s T=%d t=%d: beta %a abar %a, PyTorch %a %a", dn_beta_kind_name(gs->kind), gs->T, t,
                             (double)s.betas[t], (double)s.alphas_cumprod[t], (double)gs->beta[k], (double)gs->abar[k]);
            }
        }
        dn_sched_free(&s);
    }
}

static void properties_hold_for_every_kind(void **state) {
    (void)state;
    const int Ts[] = {2, 10, 50, 1000, 4000};
    for (int kind = 0; kind < 3; kind++) {
        for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
            int T = Ts[ti];
            dn_sched s;
            assert_int_equal(dn_sched_init_default(&s, (dn_beta_kind)kind, T), 0);
            assert_int_equal(s.T, T);
            for (int t = 0; t < T; t++) {
                float b = s.betas[t], a = s.alphas_cumprod[t];
                assert_true(b > 0.0f && b < 1.0f);
                assert_true(a > 0.0f && a < 1.0f);
                assert_true(s.alphas[t] == 1.0f - b);
                /* betas grow (noise is added faster later); alpha-bar and SNR fall */
                if (t > 0) {
                    assert_true(b >= s.betas[t - 1]);
                    assert_true(a < s.alphas_cumprod[t - 1]);
                    assert_true(s.snr[t] < s.snr[t - 1]);
                }
                tu_assert_close("sqrt(abar)^2", t, (double)s.sqrt_alphas_cumprod[t] * (double)s.sqrt_alphas_cumprod[t], (double)a, 0, 1e-6);
                tu_assert_close("sqrt(1-abar)^2", t,
                                (double)s.sqrt_one_minus_alphas_cumprod[t] * (double)s.sqrt_one_minus_alphas_cumprod[t],
                                1.0 - (double)a, 1e-7, 1e-6);
                tu_assert_close("snr", t, (double)s.snr[t], (double)a / (1.0 - (double)a), 0, 1e-5);
            }
            /* alpha-bar is the running product of the alphas */
            double prod = 1;
            for (int t = 0; t < T; t++) prod *= (double)s.alphas[t];
            tu_assert_close("prod alphas", T, (double)s.alphas_cumprod[T - 1], prod, 0, 1e-6);
            dn_sched_free(&s);
        }
    }
}

static void cosine_is_capped(void **state) {
    (void)state;
    dn_sched s;
    assert_int_equal(dn_sched_init_default(&s, DN_BETA_COSINE, 1000), 0);
    /* abar(1) = cos(pi/2)^2 = 0, so the last beta would be 1: it is capped at 0.999 */
    assert_true(s.betas[999] == 0.999f);
    for (int t = 0; t < 1000; t++) assert_true(s.betas[t] <= 0.999f);
    /* the cosine schedule keeps more signal in the middle than the linear one (its purpose) */
    dn_sched l;
    assert_int_equal(dn_sched_init_default(&l, DN_BETA_LINEAR, 1000), 0);
    assert_true(s.alphas_cumprod[500] > l.alphas_cumprod[500]);
    /* at the end almost no signal is left in either */
    assert_true(s.alphas_cumprod[999] < 1e-4f && l.alphas_cumprod[999] < 1e-4f);
    dn_sched_free(&s);
    dn_sched_free(&l);
}

static void linear_endpoints(void **state) {
    (void)state;
    dn_sched s;
    assert_int_equal(dn_sched_init(&s, DN_BETA_LINEAR, 1000, 0.0001f, 0.02f), 0);
    assert_true(s.betas[0] == 0.0001f && s.betas[999] == 0.02f);
    dn_sched_free(&s);
    assert_int_equal(dn_sched_init(&s, DN_BETA_SCALED_LINEAR, 1000, 0.00085f, 0.012f), 0);
    tu_assert_close("scaled_linear first", 0, (double)s.betas[0], 0.00085, 0, 1e-6);
    tu_assert_close("scaled_linear last", 999, (double)s.betas[999], 0.012, 0, 1e-6);
    dn_sched_free(&s);
}

static void bad_input_fails_with_a_reason(void **state) {
    (void)state;
    dn_sched s;
    assert_int_equal(dn_sched_init(&s, DN_BETA_LINEAR, 1, 0.0001f, 0.02f), -1);
    assert_non_null(strstr(dn_error(), "T = 1"));
    assert_int_equal(dn_sched_init(&s, DN_BETA_LINEAR, 100, 0.02f, 0.0001f), -1);
    assert_int_equal(dn_sched_init(&s, DN_BETA_LINEAR, 100, 0.0f, 0.02f), -1);
    assert_int_equal(dn_sched_init(&s, DN_BETA_SCALED_LINEAR, 100, 0.001f, 1.0f), -1);
    dn_sched_free(&s);
    dn_sched_free(NULL);
    dn_beta_kind k;
    assert_int_equal(dn_beta_kind_parse("cosine", &k), 0);
    assert_int_equal(k, DN_BETA_COSINE);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dn_beta_kind_parse(dn_beta_kind_name((dn_beta_kind)i), &k), 0);
        assert_int_equal(k, i);
    }
    assert_int_equal(dn_beta_kind_parse("sigmoid", &k), -1);
    assert_non_null(strstr(dn_error(), "sigmoid"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_diffusers),
        cmocka_unit_test(properties_hold_for_every_kind),
        cmocka_unit_test(cosine_is_capped),
        cmocka_unit_test(linear_endpoints),
        cmocka_unit_test(bad_input_fails_with_a_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
