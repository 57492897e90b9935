/**
 * An item's status, derived in one place from where it is: not in a batch yet (`pending`),
 * in a batch being anchored (`anchoring`, also while a batch whose anchor the chain lost is
 * anchored again), or in an anchored batch (`anchored`). Both engines run this SQL over
 * `evidence e LEFT JOIN batches b ON b.id = e.batch_id`.
 */
export const STATUS_SQL = `CASE WHEN e.batch_id IS NULL THEN 'pending' WHEN b.status = 'anchored' THEN 'anchored' ELSE 'anchoring' END`;
