/* Driver for benchmarks/dsp_cost.sh: generates N synthetic frames (a person breathing, 20 Hz,
 * tier 2) and, when asked, runs each through rv_edge_process. Running it twice (process N vs
 * 0 frames) under callgrind and subtracting gives the instructions the core spends per frame.
 * usage: cost_driver N_SUBCARRIERS N_FRAMES PROCESS(0|1) */
#include <stdio.h>
#include <stdlib.h>

#include "ruview_edge.h"
#include "rv_ring.h"
#include "rv_synth.h"

static rv_edge_t edge;
static rv_out_t out;

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s N_SUBCARRIERS N_FRAMES PROCESS(0|1)\n", argv[0]);
        return 2;
    }
    int nsc = atoi(argv[1]);
    long n = atol(argv[2]);
    int process = atoi(argv[3]);
    syn_cfg_t c;
    syn_default(&c, 20.0, 42);
    c.n_sc = nsc;
    syn_add_person(&c, 15.0, 70.0);
    static syn_t s;
    syn_init(&s, &c);
    rv_edge_cfg_t cfg;
    rv_edge_cfg_defaults(&cfg);
    rv_edge_init(&edge, &cfg);
    long packets = 0;
    for (long i = 0; i < n; i++) {
        rv_frame_t f;
        syn_next(&s, &f);
        if (process)
            packets += rv_edge_process(&edge, &f, &out);
    }
    printf("frames %ld packets %ld\n", n, packets);
    printf("sizeof_rv_edge_t %zu\nsizeof_rv_ring_t %zu\nsizeof_rv_out_t %zu\nmax_iq_bytes %d\n",
           sizeof(rv_edge_t), sizeof(rv_ring_t), sizeof(rv_out_t), (int)RV_MAX_IQ_BYTES);
    return 0;
}
