/* Prints the static RAM the core needs on the node: the pipeline state and the frame ring. */
#include <stdio.h>

#include "ruview_edge.h"
#include "rv_ring.h"

int main(void)
{
    size_t edge = rv_edge_state_size(), ring = sizeof(rv_ring_t);
    printf("sizeof(rv_edge_t) = %zu bytes\n", edge);
    printf("sizeof(rv_ring_t) = %zu bytes (%d slots)\n", ring, RV_RING_SLOTS);
    printf("total static      = %zu bytes (goal 24576: %.2fx)\n", edge + ring,
           (double)(edge + ring) / 24576.0);
    /* the pipeline state alone must stay within the budget */
    return edge <= 24576 ? 0 : 1;
}
