/** The fake OpenAI upstream of the test kit, in its own process for `pnpm bench`. */
import { startFakeUpstream } from '@tollgate/test-kit';

const fake = await startFakeUpstream({ keepRequests: false });
console.log(`listening on ${fake.url}`);
