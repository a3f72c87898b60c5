/** The fake OpenAI upstream of the test kit, in its own process for `pnpm bench`. */
import { startFakeUpstream } from '@tollgate/test-kit';

const fake = await startFakeUpstream();
console.log(`listening on ${fake.url}`);
