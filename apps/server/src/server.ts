import { serve, startupMessage } from "./serve.js";

try {
  await serve();
} catch (err) {
  console.error(startupMessage(err) ?? err);
  process.exit(1);
}
